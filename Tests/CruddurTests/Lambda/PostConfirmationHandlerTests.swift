import CruddurDatabase
import CruddurLambda
import Foundation
import Testing

/// The post-confirmation handler against a real PostgreSQL database (seeded: the handles `bayko` and `jess-bk` exist).
@Suite(.serialized)
struct PostConfirmationHandlerTests {
    let database: ConnectionSettings

    init() async throws {
        database = try await TestPostgres.shared.makeDatabase(seeded: true)
    }

    @Test func aNewUserIsStoredAndTheEventReturnedUnchanged() async throws {
        let attributes = userAttributes(name: "Ada Lovelace", handle: "ada")
        let event = cognitoEvent(attributes: attributes)
        try await withPostConfirmationHandler(database) { handler, repository in
            let (response, result) = try await handler.handle(event, context: InvocationContext(requestID: "r1"))
            #expect(response == event)
            guard case .stored(.created(let uuid), _, "ada") = result else {
                Issue.record("expected a created user, got \(result)")
                return
            }
            let stored = try await repository.find(cognitoUserID: attributes["sub"]!)
            #expect(
                stored
                    == CognitoUserRepository.StoredUser(
                        uuid: uuid, cognitoUserID: attributes["sub"]!, email: attributes["email"]!,
                        displayName: "Ada Lovelace", handle: "ada"
                    ))
        }
    }

    @Test func aRepeatedConfirmationAddsNoSecondRow() async throws {
        let attributes = userAttributes()
        let event = cognitoEvent(attributes: attributes)
        let before = try await userCount(database)
        try await withPostConfirmationHandler(database) { handler, _ in
            let first = try await handler.handle(event, context: InvocationContext(requestID: "r1"))
            let second = try await handler.handle(event, context: InvocationContext(requestID: "r2"))
            guard case .stored(.created, _, _) = first.result else {
                Issue.record("expected a created user, got \(first.result)")
                return
            }
            #expect(second.result == .stored(.unchanged, cognitoUserID: attributes["sub"]!, handle: attributes["preferred_username"]!))
            #expect(second.response == event)
        }
        #expect(try await userCount(database) == before + 1)
    }

    @Test func concurrentRetriesOfOneConfirmationStoreOneRow() async throws {
        let event = cognitoEvent(attributes: userAttributes())
        let before = try await userCount(database)
        try await withPostConfirmationHandler(database) { handler, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<4 {
                    group.addTask { _ = try await handler.handle(event, context: InvocationContext(requestID: "r\(index)")) }
                }
                try await group.waitForAll()
            }
        }
        #expect(try await userCount(database) == before + 1)
    }

    @Test func aForgotPasswordConfirmationUpsertsTheSameUser() async throws {
        let attributes = userAttributes()
        let signUp = cognitoEvent(attributes: attributes)
        let forgotPassword = cognitoEvent(triggerSource: "PostConfirmation_ConfirmForgotPassword", attributes: attributes)
        let missed = cognitoEvent(triggerSource: "PostConfirmation_ConfirmForgotPassword", attributes: userAttributes())
        let before = try await userCount(database)
        try await withPostConfirmationHandler(database) { handler, _ in
            _ = try await handler.handle(signUp, context: InvocationContext(requestID: "r1"))
            let again = try await handler.handle(forgotPassword, context: InvocationContext(requestID: "r2"))
            guard case .stored(.unchanged, _, _) = again.result else {
                Issue.record("expected nothing to change, got \(again.result)")
                return
            }
            #expect(again.response == forgotPassword)
            // A user whose sign-up trigger failed is stored when they next confirm a new password.
            let late = try await handler.handle(missed, context: InvocationContext(requestID: "r3"))
            guard case .stored(.created, _, _) = late.result else {
                Issue.record("expected a created user, got \(late.result)")
                return
            }
        }
        #expect(try await userCount(database) == before + 2)
    }

    @Test func changedAttributesUpdateTheRowInPlace() async throws {
        let sub = UUID().uuidString.lowercased()
        let original = userAttributes(sub: sub, email: "old@example.com", name: "Old Name", handle: "changer-\(sub.prefix(6))")
        let changed = userAttributes(sub: sub, email: "new@example.com", name: "New Name", handle: "changed-\(sub.prefix(6))")
        try await withPostConfirmationHandler(database) { handler, repository in
            let first = try await handler.handle(cognitoEvent(attributes: original), context: InvocationContext(requestID: "r1"))
            let second = try await handler.handle(
                cognitoEvent(triggerSource: "PostConfirmation_ConfirmForgotPassword", attributes: changed),
                context: InvocationContext(requestID: "r2")
            )
            guard case .stored(.created(let uuid), _, _) = first.result, case .stored(.updated(let sameUUID), _, _) = second.result else {
                Issue.record("expected created then updated, got \(first.result) and \(second.result)")
                return
            }
            #expect(uuid == sameUUID)
            let stored = try await repository.find(cognitoUserID: sub)
            #expect(stored?.email == "new@example.com")
            #expect(stored?.displayName == "New Name")
            #expect(stored?.handle == "changed-\(sub.prefix(6))")
        }
    }

    @Test func aHandleHeldByAnotherUserIsAnErrorAndNothingIsWritten() async throws {
        let before = try await userCount(database)
        let newcomer = userAttributes(handle: "bayko")
        let sub = UUID().uuidString.lowercased()
        let existing = userAttributes(sub: sub, email: "mine@example.com", handle: "own-\(sub.prefix(6))")
        try await withPostConfirmationHandler(database) { handler, repository in
            let error = await handlerError(handler, cognitoEvent(attributes: newcomer))
            #expect(error?.errorType == "Cruddur.HandleTaken")
            #expect(error?.errorMessage.contains("'bayko'") == true)
            #expect(try await repository.find(cognitoUserID: newcomer["sub"]!) == nil)

            // An existing user who changed their handle to a taken one keeps every old attribute.
            _ = try await handler.handle(cognitoEvent(attributes: existing), context: InvocationContext(requestID: "r1"))
            var renamed = existing
            renamed["preferred_username"] = "jess-bk"
            renamed["email"] = "changed@example.com"
            let renameError = await handlerError(handler, cognitoEvent(attributes: renamed))
            #expect(renameError?.errorType == "Cruddur.HandleTaken")
            let stored = try await repository.find(cognitoUserID: sub)
            #expect(stored?.handle == "own-\(sub.prefix(6))")
            #expect(stored?.email == "mine@example.com")
        }
        #expect(try await userCount(database) == before + 1)
    }

    @Test(arguments: ["sub", "email", "name", "preferred_username"])
    func eachMissingAttributeIsAnError(attribute: String) async throws {
        var attributes = userAttributes()
        attributes.removeValue(forKey: attribute)
        let event = cognitoEvent(attributes: attributes)
        let before = try await userCount(database)
        try await withPostConfirmationHandler(database) { handler, _ in
            let error = await handlerError(handler, event)
            #expect(
                error == LambdaFunctionError(errorType: "Cruddur.InvalidEvent", errorMessage: "the event has no request.userAttributes.\(attribute)"))
        }
        #expect(try await userCount(database) == before)
    }

    /// Events of the wrong shape, and the message each gets.
    static let malformedEvents: [(String, String)] = [
        ("not json", "the event is not valid JSON"),
        ("[1, 2]", "the event's event must be an object, not an array"),
        (#"{"userPoolId": "us-east-1_A1", "request": {"userAttributes": {}}}"#, "the event has no triggerSource"),
        (#"{"triggerSource": 7}"#, "the event's triggerSource must be a string, not a number"),
        (#"{"triggerSource": "PostConfirmation_ConfirmSignUp", "request": {"userAttributes": {}}}"#, "the event has no userPoolId"),
        (
            #"{"triggerSource": "PostConfirmation_ConfirmSignUp", "userPoolId": "not a pool"}"#,
            "the event's userPoolId is not a user pool id like us-east-1_AbC123"
        ),
        (#"{"triggerSource": "PostConfirmation_ConfirmSignUp", "userPoolId": "us-east-1_A1"}"#, "the event has no request"),
        (
            #"{"triggerSource": "PostConfirmation_ConfirmSignUp", "userPoolId": "us-east-1_A1", "request": {"userAttributes": []}}"#,
            "the event's request.userAttributes must be an object, not an array"
        ),
        (
            #"{"triggerSource": "PostConfirmation_ConfirmSignUp", "userPoolId": "us-east-1_A1", "request": null}"#,
            "the event's request must be an object, not null"
        ),
    ]

    @Test func malformedEventsAreErrors() async throws {
        let before = try await userCount(database)
        try await withPostConfirmationHandler(database) { handler, _ in
            for (event, message) in Self.malformedEvents {
                let error = await handlerError(handler, Array(event.utf8))
                #expect(error == LambdaFunctionError(errorType: "Cruddur.InvalidEvent", errorMessage: message), "\(event)")
            }
        }
        #expect(try await userCount(database) == before)
    }

    /// Attributes of the wrong type or with values that cannot be stored, as events, with the message each gets.
    static func badAttributeEvents() -> [([UInt8], String)] {
        let cases: [(String, Any, String)] = [
            ("sub", 42, "the event's request.userAttributes.sub must be a string, not a number"),
            ("email", NSNull(), "the event's request.userAttributes.email must be a string, not null"),
            ("name", ["first": "Ada"], "the event's request.userAttributes.name must be a string, not an object"),
            ("preferred_username", true, "the event's request.userAttributes.preferred_username must be a string, not a boolean"),
            ("sub", "not-a-uuid", "the event's user attribute 'sub' is not a UUID"),
            ("email", "nobody", "the event's user attribute 'email' is not an e-mail address"),
            ("name", "   ", "the event's user attribute 'name' is blank"),
            ("name", "Ada\u{0}Lovelace", "the event's user attribute 'name' contains control characters"),
            ("preferred_username", "two words", "the event's user attribute 'preferred_username' contains a space, '/' or '@'"),
            ("preferred_username", String(repeating: "x", count: 65), "the event's user attribute 'preferred_username' is longer than 64 characters"),
        ]
        return cases.map { attribute, value, message in
            var attributes: [String: Any] = userAttributes()
            attributes[attribute] = value
            return (cognitoEvent(attributes: attributes), message)
        }
    }

    @Test func attributesOfTheWrongTypeOrValueAreErrors() async throws {
        let before = try await userCount(database)
        let events = Self.badAttributeEvents()
        try await withPostConfirmationHandler(database) { handler, _ in
            for (event, message) in events {
                let error = await handlerError(handler, event)
                #expect(error == LambdaFunctionError(errorType: "Cruddur.InvalidEvent", errorMessage: message))
            }
        }
        #expect(try await userCount(database) == before)
    }

    @Test func otherTriggerSourcesAreReturnedUnchangedAndWriteNothing() async throws {
        let before = try await userCount(database)
        try await withPostConfirmationHandler(database) { handler, _ in
            for source in ["PreSignUp_SignUp", "PostAuthentication_Authentication", "CustomMessage_SignUp"] {
                let event = cognitoEvent(triggerSource: source, attributes: userAttributes())
                let (response, result) = try await handler.handle(event, context: InvocationContext(requestID: "r"))
                #expect(response == event)
                #expect(result == .ignored(triggerSource: source))
            }
            // Nothing but the trigger source is read from such an event.
            let bare = Array(#"{"triggerSource":"TokenGeneration_HostedAuth"}"#.utf8)
            #expect(try await handler.handle(bare, context: InvocationContext(requestID: "r")).response == bare)
        }
        #expect(try await userCount(database) == before)
    }

    @Test func unknownFieldsSurviveByteForByte() async throws {
        let sub = UUID().uuidString.lowercased()
        let event = Array(
            """
            {  "version":"1","triggerSource" : "PostConfirmation_ConfirmSignUp","region":"eu-west-1",
               "userPoolId":"eu-west-1_Zz9","userName":"\(sub)","futureField":{"nested":[1,2.50,1e3,null,true],"emoji":"🦆 \\u00e9"},
               "request":{"userAttributes":{"sub":"\(sub)","email":"duck@example.com","name":"Dück","preferred_username":"duck-\(sub.prefix(6))",
               "custom:plan":"free"},"clientMetadata":{"k":"v"}},"response":{}}

            """.utf8)
        try await withPostConfirmationHandler(database) { handler, repository in
            let (response, _) = try await handler.handle(event, context: InvocationContext(requestID: "r"))
            #expect(response == event)
            #expect(try await repository.find(cognitoUserID: sub)?.displayName == "Dück")
        }
    }

    @Test(arguments: ["127.0.0.1", "10.255.255.1"])
    func anUnreachableDatabaseIsAnErrorWithinTheDeadline(host: String) async throws {
        let unreachable = ConnectionSettings(
            endpoint: .tcp(host: host, port: try freePort()), username: "cruddur", password: "secret-password", database: "cruddur",
            sslMode: .disable, connectTimeout: LambdaConfiguration.maximumConnectTimeout
        )
        try await withPostConfirmationHandler(unreachable, budget: PostConfirmationHandler.defaultBudget) { handler, _ in
            let start = ContinuousClock.now
            let error = await handlerError(handler, cognitoEvent(attributes: userAttributes()))
            let elapsed = ContinuousClock.now - start
            #expect(error?.errorType == "Cruddur.DatabaseUnavailable")
            // Cognito hands this text to the client that signed up: the class only, no host, address or server text.
            #expect(error?.errorMessage == "the user database is not answering; try again shortly")
            #expect(error?.errorMessage.contains(host) == false)
            #expect(elapsed < .milliseconds(4_500), "took \(elapsed)")
        }
    }

    @Test func lambdasOwnDeadlineShortensTheBudget() async throws {
        let unreachable = ConnectionSettings(
            endpoint: .tcp(host: "127.0.0.1", port: try freePort()), username: "cruddur", password: nil, database: "cruddur", sslMode: .disable
        )
        try await withPostConfirmationHandler(unreachable) { handler, _ in
            let start = ContinuousClock.now
            let context = InvocationContext(requestID: "r", deadline: Date().addingTimeInterval(1.25))
            await #expect(throws: LambdaFunctionError.self) {
                _ = try await handler.handle(cognitoEvent(attributes: userAttributes()), context: context)
            }
            #expect(ContinuousClock.now - start < .milliseconds(1_250))
        }
    }
}
