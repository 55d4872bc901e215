import sys

from imagejobs.cli import main

sys.exit(main())
