from crowdlearn._entry import main

main()
