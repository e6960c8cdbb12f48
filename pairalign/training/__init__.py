"""The training loop every stage shares, with no cluster in it: batches in, a reporter out.
`pairalign.jobs` runs it on Ray Train; `pairalign.training.local` runs it on one process."""
