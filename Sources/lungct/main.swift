print("lungct")
