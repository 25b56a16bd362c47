enum _PlaceholderCruddurAPI {}
