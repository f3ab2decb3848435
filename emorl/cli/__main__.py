"""``python -m emorl.cli``."""

from emorl.cli import main

raise SystemExit(main())
