using UFork.Hosting;

namespace UFork.Prompt;

/// <summary>What C# typed at the prompt sees as globals. Public because compiled scripts reference it.</summary>
public sealed class PromptGlobals(Arbiter arbiter)
{
    /// <summary>The live arbiter: <c>arbiter.Workers.Count</c>. Lower case because it reads as a variable at the prompt.</summary>
    public Arbiter arbiter { get; } = arbiter;
}
