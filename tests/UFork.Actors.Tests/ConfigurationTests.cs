using Akka.Configuration;
using UFork.Configuration;
using UFork.Supervision;
using Xunit;

namespace UFork.Tests;

public sealed class ConfigurationTests
{
    [Fact]
    public void Defaults_come_from_reference_conf()
    {
        var settings = UForkSettings.Default;

        Assert.Equal(Math.Max(Environment.ProcessorCount - 1, 2), settings.Workers);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.ShutdownGrace);
        Assert.Equal(new RestartPolicy(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1), -1), settings.Restart);
        Assert.Equal(1L << 30, settings.WorkerMemoryLimit);
    }

    [Fact]
    public void A_file_overrides_the_defaults()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, "ufork { workers = 5, shutdown.grace = 3s, restart.max-retries = 4 }");

        var settings = UForkSettings.FromConfig(UForkConfig.LoadFile(file));

        Assert.Equal((5, TimeSpan.FromSeconds(3), 4), (settings.Workers, settings.ShutdownGrace, settings.Restart.MaxRetries));
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Restart.MaxBackoff);
    }

    [Theory]
    [InlineData("ufork.workers = many", "ufork.workers must be a positive integer or auto, not 'many'")]
    [InlineData("ufork.workers = 0", "ufork.workers must be a positive integer or auto, not '0'")]
    [InlineData("ufork.shutdown.grace = soon", "ufork.shutdown.grace must be a duration such as 500ms or 10s, not 'soon'")]
    [InlineData("ufork.restart.max-retries = -3", "ufork.restart.max-retries must be an integer, -1 for never, not '-3'")]
    public void A_value_of_the_wrong_type_is_named(string hocon, string message)
    {
        var error = Assert.Throws<UForkConfigException>(() => UForkSettings.FromConfig(ConfigurationFactory.ParseString(hocon)));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void A_missing_or_broken_file_is_one_clear_error()
    {
        Assert.Equal("config file /nonexistent.conf does not exist",
            Assert.Throws<UForkConfigException>(() => UForkConfig.LoadFile("/nonexistent.conf")).Message);
        var broken = Path.GetTempFileName();
        File.WriteAllText(broken, "ufork { workers = ${undefined} }");
        Assert.StartsWith($"config file {broken} does not parse:",
            Assert.Throws<UForkConfigException>(() => UForkConfig.LoadFile(broken)).Message);
    }

    [Fact]
    public void The_restart_policy_doubles_from_min_to_max_and_resets_after_stability()
    {
        var policy = new RestartPolicy(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1), -1);

        Assert.Equal([0, 100, 200, 400, 800], Enumerable.Range(1, 5).Select(n => policy.DelayBefore(n).TotalMilliseconds));
        Assert.Equal(TimeSpan.FromSeconds(30), policy.DelayBefore(20));
        Assert.Equal(4, policy.CountFailure(3, TimeSpan.FromSeconds(5)));
        Assert.Equal(1, policy.CountFailure(3, TimeSpan.FromMinutes(2)));
        Assert.False(policy.GivesUp(1000));
        Assert.True((policy with { MaxRetries = 3 }).GivesUp(4));
    }
}
