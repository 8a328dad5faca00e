namespace UFork.Runtime;

/// <summary>What the post-fork function learns about the worker it runs in.</summary>
public sealed record WorkerContext(int WorkerId, int Pid, IReadOnlyList<int> ListenFds);
