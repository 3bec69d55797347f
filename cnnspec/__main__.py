import sys

from cnnspec.cli import main

sys.exit(main())
