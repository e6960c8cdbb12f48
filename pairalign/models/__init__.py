"""The networks: log-mel front end, encoder, VQ codebook, the stage-1 model (`vq_model`), the
token decoder, greedy decoding and the stage-2 model (`pairalign_model`), and their checkpoint
format."""
