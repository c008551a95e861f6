"""`python -m keras_rnninit.benchmark`."""

import sys

from keras_rnninit.benchmark.cli import main

sys.exit(main())
