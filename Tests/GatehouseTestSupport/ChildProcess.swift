import Foundation

extension Process {
    /// Waits for this (started) process to exit, and returns its status, on a thread of its own.
    /// A blocking wait inside a test's task would hold one of Swift's concurrency threads (one per
    /// core, two here): two of them stall every other test's timers and lookups with them.
    public func exited() async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread {
                self.waitUntilExit()
                continuation.resume(returning: self.terminationStatus)
            }.start()
        }
    }

    /// Runs this process to its end and returns its status and what it wrote to its standard
    /// output and error (one pipe, read to the end off the concurrency threads).
    public func output() async throws -> (status: Int32, output: String) {
        let pipe = Pipe()
        standardOutput = pipe
        standardError = pipe
        try run()
        let data: Data = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile()) }.start()
        }
        return (await exited(), String(decoding: data, as: UTF8.self))
    }
}
