import Foundation
@testable import Incidents
import Testing

@Suite("OutboxSignal: a wait ends at a raise, its own timeout or its cancellation, with one timer per signal",
       .timeLimit(.minutes(3)))
struct OutboxSignalTests {
    /// Raises `signal` once a wait is waiting on it.
    static func raise(_ signal: OutboxSignal) -> Task<Void, Never> {
        Task {
            while !signal.isWaiting { try? await Task.sleep(for: .milliseconds(1)) }
            signal.raise()
        }
    }

    /// Waits on `signal` with `timeout` while another task raises it once the wait is waiting;
    /// true when the wait saw the raise.
    static func waitRaised(_ signal: OutboxSignal, upTo timeout: Duration) async -> Bool {
        let raiser = raise(signal)
        await signal.wait(upTo: timeout)
        await raiser.value
        return signal.take()
    }

    /// How long a wait on `signal` that nothing raises took.
    static func timedWait(_ signal: OutboxSignal, upTo timeout: Duration) async -> Duration {
        let began = ContinuousClock.now
        await signal.wait(upTo: timeout)
        return ContinuousClock.now - began
    }

    @Test("raised before the wait: it returns at once; take() is true once")
    func raisedFirst() async {
        let signal = OutboxSignal()
        signal.raise()
        let began = ContinuousClock.now
        await signal.wait(upTo: .seconds(3600))
        #expect(ContinuousClock.now - began < .seconds(30))
        #expect(signal.take())
        #expect(!signal.take())
    }

    @Test("not raised: the wait ends at its timeout, not before")
    func timeout() async {
        let signal = OutboxSignal()
        let took = await Self.timedWait(signal, upTo: .milliseconds(300))
        #expect(took >= .milliseconds(300) && took < .seconds(30), "\(took)")
        #expect(!signal.take())
    }

    @Test("waits ended by raises, an hour's timeout each: one timer serves them all")
    func oneTimer() async {
        let signal = OutboxSignal()
        for _ in 0..<200 { #expect(await Self.waitRaised(signal, upTo: .seconds(3600))) }
        // A task per wait before: 200 timers made, each put to sleep and cancelled.
        #expect(signal.timersStarted == 1)
    }

    @Test("an earlier wait's timeout never cuts a later, longer wait short")
    func laterWaitKept() async {
        let signal = OutboxSignal()
        // The timer is set for a second; this wait ends by a raise first.
        #expect(await Self.waitRaised(signal, upTo: .seconds(1)))
        // The next wait's deadline is later: the timer, waking at one second, must leave it waiting.
        let took = await Self.timedWait(signal, upTo: .seconds(3))
        #expect(took >= .seconds(3) && took < .seconds(60), "\(took)")
        #expect(signal.timersStarted == 1)
    }

    @Test("a shorter wait after a long one gets a timer of its own and ends at its timeout")
    func earlierDeadline() async {
        let signal = OutboxSignal()
        #expect(await Self.waitRaised(signal, upTo: .seconds(3600)))
        // Were the hour's timer kept, this would wait an hour (the suite's limit fails it first).
        let took = await Self.timedWait(signal, upTo: .milliseconds(200))
        #expect(took >= .milliseconds(200) && took < .seconds(30), "\(took)")
        #expect(signal.timersStarted == 2)
    }

    @Test("cancelling the waiting task ends its wait at once; a zero timeout returns at once")
    func cancelled() async {
        let signal = OutboxSignal()
        let began = ContinuousClock.now
        let waiter = Task { await signal.wait(upTo: .seconds(3600)) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await waiter.value
        #expect(ContinuousClock.now - began < .seconds(30))
        // Cancelled before it waits: it returns at once too.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await signal.wait(upTo: .seconds(3600))
        }
        await early.value
        await signal.wait(upTo: .zero)
        await signal.wait(upTo: .seconds(-5))
        #expect(ContinuousClock.now - began < .seconds(30))
    }

    @Test("the timer does not keep its signal alive while it sleeps")
    func released() async {
        weak var released: OutboxSignal?
        do {
            let signal = OutboxSignal()
            released = signal
            #expect(await Self.waitRaised(signal, upTo: .seconds(3600)))
            #expect(signal.timersStarted == 1)
        }
        #expect(released == nil)
    }
}
