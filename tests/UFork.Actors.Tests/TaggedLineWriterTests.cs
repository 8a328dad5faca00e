using System.Text;
using UFork.Output;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

public sealed class TaggedLineWriterTests
{
    [Fact]
    public void A_failing_destination_loses_lines_but_never_throws_and_the_loss_is_reported_once_it_recovers()
    {
        var destination = new FlakyStream { Failing = true };
        using var writer = new TaggedLineWriter(destination);

        writer.WriteLines(0, 42, OutputStream.Stdout, [Encoding.ASCII.GetBytes("lost 1"), Encoding.ASCII.GetBytes("lost 2")]);
        writer.WriteLine("[ufork] lost 3");
        destination.Failing = false;
        writer.WriteLines(0, 42, OutputStream.Stderr, [Encoding.ASCII.GetBytes("kept")]);

        Assert.Equal(["[ufork] warning: 3 lines could not be written: Input/output error", "[w0 42 err] kept", ""],
            destination.Text.Split('\n').Select(LogLines.WithoutTime));
    }

    /// <summary>A stream that fails like a terminal that hung up (EIO), until told otherwise.</summary>
    private sealed class FlakyStream : MemoryStream
    {
        public bool Failing { get; set; }

        public string Text => Encoding.UTF8.GetString(ToArray());

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Failing)
                throw new IOException("Input/output error");
            base.Write(buffer, offset, count);
        }
    }
}
