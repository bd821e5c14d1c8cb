from crmgen.cli import main

main()
