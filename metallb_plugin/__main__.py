import sys

from metallb_plugin.cli import main

sys.exit(main())
