import sys

from tumorscope.cli import main

sys.exit(main())
