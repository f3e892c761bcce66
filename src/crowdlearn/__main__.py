from crowdlearn.cli import main

main()
