from facestream.cli import main

raise SystemExit(main())
