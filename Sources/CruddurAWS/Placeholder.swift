enum _PlaceholderCruddurAWS {}
