import Testing

@testable import GatehouseProxy

/// Every transition of the client connection's life (`ClientConnection`), without a socket.
@Suite struct ClientConnectionTests {
    final class Request: ClientExchange {
        var takesClientBytes = true
        var responseStarted = false
    }
    final class Waiting {}
    typealias Connection = ClientConnection<Request, Waiting>

    /// The state's case, its payload compared by identity.
    enum Phase: Equatable {
        case idle, authenticating(ObjectIdentifier), exchanging(ObjectIdentifier), discardingBody, closing(unreadInput: Bool), lingering, done
    }

    static func phase(_ connection: Connection) -> Phase {
        switch connection.state {
        case .idle: .idle
        case .authenticating(let waiting): .authenticating(ObjectIdentifier(waiting))
        case .exchanging(let request): .exchanging(ObjectIdentifier(request))
        case .discardingBody: .discardingBody
        case .closing(let unreadInput): .closing(unreadInput: unreadInput)
        case .lingering: .lingering
        case .done: .done
        }
    }

    static func inFlight(_ request: Request) -> Connection {
        var connection = Connection()
        connection.exchangeStarted(request)
        return connection
    }

    static func handed(_ action: Connection.PartAction) -> Request? {
        if case .exchange(let request) = action { return request }
        return nil
    }

    static let max = 64 * 1024

    // MARK: Between requests

    @Test func betweenRequestsEverythingIsParsedAndNothingIsHeld() {
        var connection = Connection()
        #expect(Self.phase(connection) == .idle)
        #expect(connection.bytesArrived() == .parse)
        #expect(connection.parsesNext(betweenRequests: true))
        #expect(connection.parsesNext(betweenRequests: false))
        #expect(connection.exchange == nil)
        #expect(Self.handed(connection.bodyParsed()) == nil)
        let endParsed = connection.endParsed()
        #expect(Self.handed(endParsed) == nil)
        #expect(Self.phase(connection) == .idle)
        let readRequested = connection.readRequested(unparsedBytes: Self.max - 1, maxUnparsed: Self.max)
        #expect(readRequested == .read)
        #expect(!connection.readsHeld)
    }

    @Test func enoughRequestsSentAheadHoldReadsUntilResumed() {
        var connection = Connection()
        let readRequested = connection.readRequested(unparsedBytes: Self.max, maxUnparsed: Self.max)
        #expect(readRequested == .hold)
        #expect(connection.readsHeld)
        let resumeReads = connection.resumeReads()
        #expect(resumeReads)
        #expect(!connection.readsHeld)
        // Resuming reads that were not held does nothing.
        let resumeReadsAgain = connection.resumeReads()
        #expect(!resumeReadsAgain)
    }

    @Test func aDrainBetweenRequestsClosesAtOnce() {
        var connection = Connection()
        let quiesce = connection.quiesce()
        #expect(quiesce == .close)
        #expect(connection.quiescing)
    }

    // MARK: A request in flight

    @Test func aRequestInFlightTakesItsOwnPartsAndLeavesTheNextRequestUnparsed() {
        let request = Request()
        var connection = Self.inFlight(request)
        #expect(Self.phase(connection) == .exchanging(ObjectIdentifier(request)))
        #expect(connection.exchange === request)
        #expect(connection.bytesArrived() == .parse)
        #expect(connection.parsesNext(betweenRequests: false))
        #expect(!connection.parsesNext(betweenRequests: true))
        #expect(Self.handed(connection.bodyParsed()) === request)
        let endParsed = connection.endParsed()
        #expect(Self.handed(endParsed) === request)
        // Its end leaves it in flight until it is answered.
        #expect(connection.exchange === request)
    }

    @Test func aSecondRequestCannotStartWhileOneIsInFlight() {
        let first = Request()
        var connection = Self.inFlight(first)
        connection.exchangeStarted(Request())
        #expect(connection.exchange === first)
        connection.answeredLocally()
        #expect(connection.exchange === first)
        connection.authenticationStarted(Waiting())
        #expect(connection.exchange === first)
    }

    @Test func aRequestAnsweredAfterItsEndLeavesTheConnectionBetweenRequests() {
        let request = Request()
        var connection = Self.inFlight(request)
        let exchangeEnded = connection.exchangeEnded(requestEnded: true)
        #expect(exchangeEnded === request)
        #expect(Self.phase(connection) == .idle)
        let exchangeEndedAgain = connection.exchangeEnded(requestEnded: true)
        #expect(exchangeEndedAgain == nil)
    }

    @Test func aRequestAnsweredBeforeItsEndHasTheRestOfItsBodyDropped() {
        let request = Request()
        var connection = Self.inFlight(request)
        let exchangeEnded = connection.exchangeEnded(requestEnded: false)
        #expect(exchangeEnded === request)
        #expect(Self.phase(connection) == .discardingBody)
        #expect(connection.parsesNext(betweenRequests: false))
        #expect(connection.bytesArrived() == .parse)
        #expect(Self.handed(connection.bodyParsed()) == nil)
        let endParsed = connection.endParsed()
        #expect(Self.handed(endParsed) == nil)
        #expect(Self.phase(connection) == .idle)
    }

    @Test func readsWaitWhileTheRequestInFlightCannotTakeItsBody() {
        let request = Request()
        var connection = Self.inFlight(request)
        let readRequested = connection.readRequested(unparsedBytes: 0, maxUnparsed: Self.max)
        #expect(readRequested == .read)
        request.takesClientBytes = false
        let readRequestedAgain = connection.readRequested(unparsedBytes: 0, maxUnparsed: Self.max)
        #expect(readRequestedAgain == .hold)
        #expect(connection.readsHeld)
        let resumeReads = connection.resumeReads()
        #expect(resumeReads)
        request.takesClientBytes = true
        let readRequestedThird = connection.readRequested(unparsedBytes: Self.max, maxUnparsed: Self.max)
        #expect(readRequestedThird == .hold)
    }

    @Test func aDrainDuringARequestWaitsForItsAnswer() {
        var connection = Self.inFlight(Request())
        let quiesce = connection.quiesce()
        #expect(quiesce == .none)
        #expect(connection.quiescing)
        _ = connection.exchangeEnded(requestEnded: false)
        // Answered, its body still coming: nothing is being handled.
        let quiesceAgain = connection.quiesce()
        #expect(quiesceAgain == .close)
    }

    // MARK: Answers the gateway makes itself

    @Test func aHeadAnsweredLocallyHasItsBodyDropped() {
        var connection = Connection()
        connection.answeredLocally()
        #expect(Self.phase(connection) == .discardingBody)
        connection.answerWritten(closing: false)
        #expect(Self.phase(connection) == .discardingBody)
        let endParsed = connection.endParsed()
        #expect(Self.handed(endParsed) == nil)
        #expect(Self.phase(connection) == .idle)
    }

    @Test func aClosingAnswerToARequestReadWholeClosesOnceFlushed() {
        var connection = Connection()
        connection.answerWritten(closing: true)
        #expect(Self.phase(connection) == .closing(unreadInput: false))
        #expect(connection.bytesArrived() == .drop)
        #expect(!connection.parsesNext(betweenRequests: true))
        // Reads go on (bytes are dropped as they come): nothing piles up.
        let readRequested = connection.readRequested(unparsedBytes: Self.max, maxUnparsed: Self.max)
        #expect(readRequested == .read)
        let quiesce = connection.quiesce()
        #expect(quiesce == .none)
        let answerFlushed = connection.answerFlushed(canLinger: true)
        #expect(answerFlushed == .close)
        #expect(Self.phase(connection) == .done)
    }

    @Test func aClosingAnswerToAClientStillSendingLingers() {
        var connection = Connection()
        connection.answeredLocally()
        connection.answerWritten(closing: true)
        #expect(Self.phase(connection) == .closing(unreadInput: true))
        // Nothing restarts a closing connection.
        connection.exchangeStarted(Request())
        connection.answeredLocally()
        connection.authenticationStarted(Waiting())
        connection.answerWritten(closing: false)
        #expect(Self.phase(connection) == .closing(unreadInput: true))
        let answerFlushed = connection.answerFlushed(canLinger: true)
        #expect(answerFlushed == .linger)
        #expect(Self.phase(connection) == .lingering)
        #expect(connection.bytesArrived() == .drop)
        #expect(!connection.parsesNext(betweenRequests: false))
        let readRequested = connection.readRequested(unparsedBytes: Self.max, maxUnparsed: Self.max)
        #expect(readRequested == .read)
        connection.answerWritten(closing: true)
        #expect(Self.phase(connection) == .lingering)
    }

    @Test func aConnectionThatCannotLingerCloses() {
        var connection = Connection()
        connection.answeredLocally()
        connection.answerWritten(closing: true)
        let answerFlushed = connection.answerFlushed(canLinger: false)
        #expect(answerFlushed == .close)
        #expect(Self.phase(connection) == .done)
    }

    // MARK: Authentication that waits

    @Test func aHeadWaitingForItsAuthenticationHoldsTheRestUnparsed() {
        var connection = Connection()
        let waiting = Waiting()
        connection.authenticationStarted(waiting)
        #expect(Self.phase(connection) == .authenticating(ObjectIdentifier(waiting)))
        #expect(connection.exchange == nil)
        #expect(connection.bytesArrived() == .parse)
        #expect(!connection.parsesNext(betweenRequests: true))
        let readRequested = connection.readRequested(unparsedBytes: 0, maxUnparsed: Self.max)
        #expect(readRequested == .read)
        let readRequestedAgain = connection.readRequested(unparsedBytes: Self.max, maxUnparsed: Self.max)
        #expect(readRequestedAgain == .hold)
        let quiesce = connection.quiesce()
        #expect(quiesce == .none)
        // An answer for another request is not this one's.
        let authenticationAnswered = connection.authenticationAnswered(Waiting())
        #expect(!authenticationAnswered)
        let authenticationAnsweredAgain = connection.authenticationAnswered(waiting)
        #expect(authenticationAnsweredAgain)
        #expect(Self.phase(connection) == .idle)
        // Nor is it taken twice.
        let authenticationAnsweredThird = connection.authenticationAnswered(waiting)
        #expect(!authenticationAnsweredThird)
    }

    @Test func anAnswerComingAfterTheConnectionEndedIsDropped() {
        var connection = Connection()
        let waiting = Waiting()
        connection.authenticationStarted(waiting)
        let ended = connection.ended()
        #expect(ended == nil)
        let authenticationAnswered = connection.authenticationAnswered(waiting)
        #expect(!authenticationAnswered)
        #expect(Self.phase(connection) == .done)
    }

    // MARK: Bytes the parser refuses

    @Test func aRefusalBetweenRequestsIsAnsweredAndTheConnectionLingers() {
        var connection = Connection()
        guard case .answer = connection.parseFailed() else { Issue.record("no answer"); return }
        #expect(Self.phase(connection) == .closing(unreadInput: true))
        connection.answerWritten(closing: true)
        let answerFlushed = connection.answerFlushed(canLinger: true)
        #expect(answerFlushed == .linger)
    }

    @Test func aRefusalInTheBodyOfARequestNotYetAnsweredFailsIt() {
        let request = Request()
        var connection = Self.inFlight(request)
        guard case .fail(let failed) = connection.parseFailed() else { Issue.record("not failed"); return }
        #expect(failed === request)
        #expect(Self.phase(connection) == .closing(unreadInput: true))
        // Answering it does not bring the connection back between requests.
        let exchangeEnded = connection.exchangeEnded(requestEnded: true)
        #expect(exchangeEnded == nil)
        connection.answerWritten(closing: true)
        #expect(Self.phase(connection) == .closing(unreadInput: true))
    }

    @Test func aRefusalInTheBodyOfARequestWhoseResponseBeganCutsItShort() {
        let request = Request()
        request.responseStarted = true
        var connection = Self.inFlight(request)
        guard case .cutShort(let cut) = connection.parseFailed() else { Issue.record("not cut short"); return }
        #expect(cut === request)
        #expect(connection.exchange == nil)
    }

    @Test func aRefusalWhileAuthenticationWaitsDropsItsAnswer() {
        var connection = Connection()
        let waiting = Waiting()
        connection.authenticationStarted(waiting)
        guard case .answer = connection.parseFailed() else { Issue.record("no answer"); return }
        let authenticationAnswered = connection.authenticationAnswered(waiting)
        #expect(!authenticationAnswered)
    }

    // MARK: The end

    @Test func anEndedConnectionGivesUpItsRequestAndTakesNothingMore() {
        let request = Request()
        var connection = Self.inFlight(request)
        let ended = connection.ended()
        #expect(ended === request)
        #expect(Self.phase(connection) == .done)
        let endedAgain = connection.ended()
        #expect(endedAgain == nil)
        #expect(connection.bytesArrived() == .drop)
        #expect(!connection.parsesNext(betweenRequests: false))
        #expect(Self.handed(connection.bodyParsed()) == nil)
        let endParsed = connection.endParsed()
        #expect(Self.handed(endParsed) == nil)
        let readRequested = connection.readRequested(unparsedBytes: 0, maxUnparsed: Self.max)
        #expect(readRequested == .read)
        connection.exchangeStarted(Request())
        connection.answeredLocally()
        connection.answerWritten(closing: true)
        #expect(Self.phase(connection) == .done)
        let quiesce = connection.quiesce()
        #expect(quiesce == .none)
        let answerFlushed = connection.answerFlushed(canLinger: true)
        #expect(answerFlushed == .close)
    }
}
