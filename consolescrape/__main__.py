from consolescrape.cli import main

main()
