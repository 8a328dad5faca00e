using UFork.Output;

namespace UFork.Prompt;

/// <summary>
/// Puts output above the <c>ufork&gt;</c> line while it is shown, and passes it straight through when it
/// is not: every arbiter started through the facade writes through one, so that a prompt can appear at
/// any time without the output changing hands.
/// </summary>
internal sealed class PromptOutputSink(IOutputSink inner, PromptLine line) : IOutputSink
{
    public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines) =>
        line.WriteAbove(() => inner.WriteLines(slot, pid, stream, lines));

    public void WriteLine(string text) => line.WriteAbove(() => inner.WriteLine(text));
}
