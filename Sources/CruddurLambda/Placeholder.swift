enum _PlaceholderCruddurLambda {}
