using AnnexEdge.Hosting;
using Microsoft.Extensions.Configuration;

namespace AnnexEdge.Tests.Hosting;

public sealed class EdgeConfigurationTests
{
    [Fact]
    public void Config_with_separate_value_is_taken_out()
    {
        var (file, rest) = EdgeConfiguration.TakeConfigArgument(["--urls", "http://127.0.0.1:1", "--config", "edge.json", "--x=y"]);
        Assert.Equal("edge.json", file);
        Assert.Equal(["--urls", "http://127.0.0.1:1", "--x=y"], rest);
    }

    [Fact]
    public void Config_with_equals_is_taken_out()
    {
        var (file, rest) = EdgeConfiguration.TakeConfigArgument(["--a", "--config=/etc/annexedge/edge.json", "--b"]);
        Assert.Equal("/etc/annexedge/edge.json", file);
        Assert.Equal(["--a", "--b"], rest);
    }

    [Fact]
    public void Value_with_equals_keeps_everything_after_the_first()
    {
        Assert.Equal("a=b.json", EdgeConfiguration.TakeConfigArgument(["--config=a=b.json"]).ConfigFile);
    }

    [Fact]
    public void Without_config_every_argument_is_kept_in_order()
    {
        string[] args = ["--urls", "http://0.0.0.0:443", "--AnnexEdge:LogFormat=json", "positional"];
        var (file, rest) = EdgeConfiguration.TakeConfigArgument(args);
        Assert.Null(file);
        Assert.Equal(args, rest);
    }

    [Fact]
    public void No_arguments_give_nothing()
    {
        var (file, rest) = EdgeConfiguration.TakeConfigArgument([]);
        Assert.Null(file);
        Assert.Empty(rest);
    }

    [Fact]
    public void Config_without_value_at_the_end_is_left_alone()
    {
        var (file, rest) = EdgeConfiguration.TakeConfigArgument(["--urls", "u", "--config"]);
        Assert.Null(file);
        Assert.Equal(["--urls", "u", "--config"], rest);
    }

    [Fact]
    public void Last_config_wins()
    {
        var (file, rest) = EdgeConfiguration.TakeConfigArgument(["--config", "a.json", "--config=b.json", "--k"]);
        Assert.Equal("b.json", file);
        Assert.Equal(["--k"], rest);
    }

    [Fact]
    public void Similar_arguments_are_not_taken()
    {
        string[] args = ["--configuration", "x", "-config", "y", "--Config", "z"];
        var (file, rest) = EdgeConfiguration.TakeConfigArgument(args);
        Assert.Null(file);
        Assert.Equal(args, rest);
    }

    [Fact]
    public void Bind_reads_the_annexedge_section()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AnnexEdge:Uuid"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            ["AnnexEdge:Repositories:0:Name"] = "node1",
            ["AnnexEdge:Repositories:0:Uuid"] = "02e4e223-0b39-48fc-a031-e5a73d74ae92",
            ["AnnexEdge:Repositories:0:Backends:0"] = "http://127.0.0.1:9417",
            ["AnnexEdge:Repositories:0:Backends:1"] = "http://127.0.0.1:9418",
            ["AnnexEdge:HealthChecks:Interval"] = "00:00:03",
            ["AnnexEdge:Locking:TokenKey"] = "key",
            ["AnnexEdge:LogFormat"] = "json",
        }).Build();

        var options = EdgeConfiguration.Bind(configuration);
        Assert.Equal("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", options.Uuid);
        var repo = Assert.Single(options.Repositories);
        Assert.Equal("node1", repo.Name);
        Assert.Equal(["http://127.0.0.1:9417", "http://127.0.0.1:9418"], repo.Backends);
        Assert.Equal(TimeSpan.FromSeconds(3), options.HealthChecks.Interval);
        Assert.Equal(TimeSpan.FromSeconds(5), options.HealthChecks.Timeout);
        Assert.Equal("key", options.Locking.TokenKey);
        Assert.Equal("json", options.LogFormat);
    }
}
