import sys

from genre_pipeline.cli.main import main

sys.exit(main())
