enum _PlaceholderCruddurDomain {}
