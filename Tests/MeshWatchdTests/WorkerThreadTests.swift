import Foundation
@testable import MeshWatchdCore
import Synchronization
import Testing

@Suite("The store's thread: one for the store's life, jobs in order, gone with its owner")
struct WorkerThreadTests {
    /// The threads of this process with `name` (as /proc shows it: at most 15 bytes).
    static func threads(named name: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            ((try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .newlines) == name
        }.count
    }

    /// This thread's id (the kernel's TID, from /proc/thread-self).
    static func threadID() -> pid_t {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return pid_t(link.split(separator: "/").last ?? "") ?? -1
    }

    @Test("every job on the same named thread, in the order given; the thread ends after its owner once the jobs are done")
    func lifecycle() async throws {
        let name = "wt-\(UInt16.random(in: 1000...9999))"
        let order = Mutex<[Int]>([])
        let threadIDs = Mutex<Set<pid_t>>([])
        do {
            let worker = WorkerThread(name: name)
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                for index in 0..<200 {
                    worker.run {
                        order.withLock { $0.append(index) }
                        threadIDs.withLock { _ = $0.insert(Self.threadID()) }
                        if index == 199 { done.resume() }
                    }
                }
            }
            #expect(Self.threads(named: name) == 1)
            // Idle past the few seconds after which a dispatch worker thread retires: still the same thread.
            try await Task.sleep(for: .seconds(6))
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                worker.run { threadIDs.withLock { _ = $0.insert(Self.threadID()) }; done.resume() }
            }
            // A job given just before the owner goes is still run.
            worker.run { Thread.sleep(forTimeInterval: 0.2); order.withLock { $0.append(200) } }
        }
        #expect(threadIDs.withLock { $0.count } == 1, "jobs ran on \(threadIDs.withLock { $0 })")
        let deadline = ContinuousClock.now + .seconds(30)
        while Self.threads(named: name) > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(Self.threads(named: name) == 0, "the thread outlived its owner")
        #expect(order.withLock { $0 } == Array(0...200))
    }
}
