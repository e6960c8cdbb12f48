"""Audio to token strings: the checkpoint tokenizer, the three tokenizer kinds
behind one interface, the dense baseline, long clips by windows, and the Parquet archive format."""
