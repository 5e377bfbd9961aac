"""`python -m ratings.stats --votes FILE.csv ...`: the leaderboard command without Django."""

import sys

from .cli import main

sys.exit(main())
