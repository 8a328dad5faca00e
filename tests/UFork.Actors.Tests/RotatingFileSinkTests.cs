using System.Text;
using UFork.Output;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

public sealed class RotatingFileSinkTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private string Log => _directory.File("ufork.log");

    [Fact]
    public void Files_shift_by_one_at_max_size_and_the_oldest_is_dropped()
    {
        using (var sink = new RotatingFileSink(Log, maxSize: 100, files: 3))
            for (var i = 0; i < 10; i++)
                sink.WriteLines(0, 42, OutputStream.Stdout, [Encoding.ASCII.GetBytes($"{i} {new string('x', 40)}")]);

        // 53 bytes a line: every second line fills a file, which is then rotated.
        Assert.Equal(["ufork.log", "ufork.log.1", "ufork.log.2"], Directory.GetFiles(_directory.Path).Select(Path.GetFileName).Order());
        Assert.Empty(LogLines.ReadAll(Log));
        Assert.StartsWith("[w0 42] 8 ", LogLines.ReadAll(Log + ".1")[0]);
        Assert.Equal(2, LogLines.ReadAll(Log + ".1").Length);
        Assert.StartsWith("[w0 42] 6 ", LogLines.ReadAll(Log + ".2")[0]);
    }

    [Fact]
    public void A_batch_is_never_split_across_files()
    {
        using (var sink = new RotatingFileSink(Log, maxSize: 10, files: 5))
        {
            sink.WriteLines(1, 7, OutputStream.Stderr, [.. Enumerable.Range(0, 5).Select(i => (ReadOnlyMemory<byte>)Encoding.ASCII.GetBytes($"line {i}"))]);
            sink.WriteLine("[ufork] after");
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"[w1 7 err] line {i}"), LogLines.ReadAll(Log + ".2"));
        Assert.Equal(["[ufork] after"], LogLines.ReadAll(Log + ".1"));
        Assert.Empty(LogLines.ReadAll(Log));
    }

    [Fact]
    public void Reopen_starts_a_new_file_where_the_old_one_was_moved_away()
    {
        using (var sink = new RotatingFileSink(Log, maxSize: 1 << 20, files: 2))
        {
            sink.WriteLine("[ufork] before");
            File.Move(Log, Log + ".moved");
            sink.WriteLine("[ufork] still to the moved file");
            sink.Reopen();
            sink.WriteLine("[ufork] after");
        }

        Assert.Equal(["[ufork] before", "[ufork] still to the moved file"], LogLines.ReadAll(Log + ".moved"));
        Assert.Equal(["[ufork] after"], LogLines.ReadAll(Log));
    }

    public void Dispose() => _directory.Dispose();
}
