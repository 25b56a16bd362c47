enum _PlaceholderCruddurDatabase {}
