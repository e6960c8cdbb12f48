"""`python -m pairalign tokenize | search | export`: the commands for one's own audio
(pairalign/cli/)."""

from pairalign.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
