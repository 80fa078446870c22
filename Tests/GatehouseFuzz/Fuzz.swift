import Foundation
import GatehouseParserOracle

// Built two ways. With `-sanitize=fuzzer -D FUZZING` (bench/fuzz-parser.sh) libFuzzer drives it:
// any input on which the parser and llhttp disagree stops the run, and libFuzzer keeps it as a
// reproducer file. Built plainly, it runs the files it is given (reproducers, a corpus) and says
// what each gives.

/// The check of one input: a disagreement is written to `FUZZ_ARTIFACTS` (a directory) as a
/// reproducer, and ends the run.
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard case .disagree(let why) = ParserOracle.compare(input) else { return 0 }
    let hash = input.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    let path = (ProcessInfo.processInfo.environment["FUZZ_ARTIFACTS"] ?? ".") + "/disagreement-" + String(hash, radix: 16)
    FileManager.default.createFile(atPath: path, contents: Data(input))
    FileHandle.standardError.write(Data("disagreement, written to \(path): \(why)\n".utf8))
    exit(1)
}

#if FUZZING
// libFuzzer's driver, called from this executable's main (SwiftPM names the entry point itself).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
enum ParserFuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { fuzzOneInput($0, $1) })
    }
}
#else
@main
enum ParserCheck {
    static func main() {
        var disagreements = 0
        let paths = CommandLine.arguments.dropFirst().flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
            return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot be read")
                disagreements += 1
                continue
            }
            let verdict = ParserOracle.compare(Array(data))
            if case .disagree = verdict { disagreements += 1 }
            print("\(path): \(verdict)")
        }
        exit(disagreements == 0 ? 0 : 1)
    }
}
#endif
