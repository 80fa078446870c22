import ArgumentParser
import Logging

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// One process-wide logging setup: lines on standard error, at the chosen level.
enum LogSetup {
    static func logger(level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "gatehouse")
        logger.logLevel = level
        return logger
    }
}
