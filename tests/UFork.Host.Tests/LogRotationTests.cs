using System.Text;
using System.Text.RegularExpressions;
using Mono.Unix.Native;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>The daemon's log file under a flood: rotated by size, every line whole and present once.</summary>
public sealed partial class LogRotationTests
{
    private const int Lines = 524_288; // of 100 bytes each: 50 MiB
    private const long MaxSize = 1 << 20;

    [Fact]
    public async Task Fifty_MiB_from_a_worker_rotate_into_whole_lines_each_present_exactly_once()
    {
        var directory = DaemonUnderTest.NewDirectory();
        var config = Path.Combine(directory, "ufork.conf");
        await File.WriteAllTextAsync(config, "ufork.log { max-size = 1MiB, files = 80 }");
        var flood = $"import sys, time; write = sys.stdout.write; [write('%08d %s\\n' % (i, 'x' * 90)) for i in range({Lines})]; " +
                    "write('done\\n'); sys.stdout.flush(); time.sleep(60)";
        await using var daemon = await DaemonUnderTest.StartAsync(["-w", "1", "--config", config, "--", "python3", "-c", flood], directory);

        // The last line lands in the newest file, or in the one before it if a rotation came just after.
        await Eventually.WaitAsync(() => EndsWithDone(daemon.LogFile) || EndsWithDone(daemon.LogFile + ".1"), done => done, TimeSpan.FromSeconds(40));
        daemon.Signal(Signum.SIGTERM);
        await daemon.AssertExitsAsync(DaemonUnderTest.Patience);

        var files = Directory.GetFiles(directory, "ufork.log*");
        Assert.InRange(files.Length, 50, 80);
        Assert.All(files, f => Assert.InRange(new FileInfo(f).Length, 0, MaxSize + 256 * 1024)); // at most one batch over
        var seen = new bool[Lines];
        foreach (var line in files.SelectMany(LogLines.Read).Where(l => !l.StartsWith("[ufork] ") && !l.EndsWith("] done")))
        {
            var match = NumberedLine().Match(line);
            Assert.True(match.Success, $"a split or garbled line: {line[..Math.Min(line.Length, 120)]}");
            var number = int.Parse(match.Groups[1].Value);
            Assert.False(seen[number], $"line {number} appears twice");
            seen[number] = true;
        }
        Assert.Equal(Lines, seen.Count(s => s));
    }

    private static bool EndsWithDone(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var tail = new byte[Math.Min(file.Length, 4096)];
            file.Seek(-tail.Length, SeekOrigin.End);
            file.ReadExactly(tail);
            return Encoding.ASCII.GetString(tail).Contains("] done\n");
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^\[w0 \d+\] (\d{8}) x{90}$")]
    private static partial Regex NumberedLine();
}
