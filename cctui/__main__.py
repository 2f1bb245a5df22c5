from cctui.cli import main

main()
