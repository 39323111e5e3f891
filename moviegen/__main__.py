from moviegen.cli import main

raise SystemExit(main())
