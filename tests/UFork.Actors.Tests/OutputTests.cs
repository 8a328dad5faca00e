using System.Text;
using UFork.Output;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

public sealed class OutputTests(ITestOutputHelper output) : ArbiterTestKit(output)
{
    [Fact]
    public void Every_line_is_echoed_in_order_and_before_the_death_is_reported()
    {
        var deaths = Listen<DeadWorker>();
        StartArbiter(Shell("i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; echo oops >&2; printf 'tail without newline'; exit 0"),
            Settings());
        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        var lines = Echoed.Lines.Where(l => l.Pid == death.Pid).ToList();
        var stdout = lines.Where(l => l.Stream == OutputStream.Stdout).Select(l => l.Text).ToList();
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => $"line {i}").Append("tail without newline"), stdout);
        Assert.Equal(["oops"], lines.Where(l => l.Stream == OutputStream.Stderr).Select(l => l.Text));
    }

    [Fact]
    public void A_line_longer_than_64_KiB_arrives_in_pieces_without_loss()
    {
        var deaths = Listen<DeadWorker>();
        StartArbiter(Shell("head -c 200000 /dev/zero | tr '\\0' x; echo; echo after; exit 0"), Settings());
        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        var lines = Echoed.Lines.Where(l => l.Pid == death.Pid).ToList();
        Assert.All(lines, l => Assert.True(l.Bytes <= 64 * 1024));
        Assert.Equal(200000, lines.Where(l => l.Text.StartsWith('x')).Sum(l => l.Bytes));
        Assert.Equal("after", lines.Last().Text);
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_are_shown_escaped()
    {
        using var buffer = new MemoryStream();
        var writer = new TaggedLineWriter(buffer);

        writer.WriteLines(2, 4711, OutputStream.Stdout, [new byte[] { (byte)'o', (byte)'k', 0xff, 0xc3, 0xa9 }]);
        writer.WriteLines(2, 4711, OutputStream.Stderr, [Encoding.UTF8.GetBytes("ça va")]);

        Assert.Equal("[w2 4711] ok\\xffé\n[w2 4711 err] ça va\n", Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
