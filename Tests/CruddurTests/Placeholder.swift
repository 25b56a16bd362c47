import Testing; import HummingbirdTesting; import JWTKit
