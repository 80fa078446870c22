import Foundation
import GatehouseParserOracle

// Built two ways. With `-sanitize=fuzzer -D FUZZING` (bench/fuzz-parser.sh) libFuzzer drives it:
// any input on which the parser and llhttp disagree stops the run, and libFuzzer keeps it as a
// reproducer file. Built plainly, it runs the files it is given (reproducers, a corpus) and says
// what each gives.

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    if case .disagree(let why) = ParserOracle.compare(input) {
        FileHandle.standardError.write(Data("disagreement: \(why)\n".utf8))
        abort()
    }
    return 0
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
