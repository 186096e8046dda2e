using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests;

/// <summary>The edge binary refuses a bad configuration at start-up with one line naming the offending entry.</summary>
public sealed class StartupValidationTests
{
    private const string Uuid1 = "0f4d2d3c-1111-4a5b-8c6d-000000000001";
    private const string Uuid2 = "0f4d2d3c-2222-4a5b-8c6d-000000000002";

    public static TheoryData<string, string, string> BadConfigs => new()
    {
        { "duplicate UUID", Config(Repo("node1", Uuid1), Repo("node2", Uuid1)), "AnnexEdge:Repositories[1] (node2): Uuid " + Uuid1 + " is already used by AnnexEdge:Repositories[0]" },
        { "duplicate name", Config(Repo("node1", Uuid1), Repo("node1", Uuid2)), "AnnexEdge:Repositories[1] (node1): Name \"node1\" is already used by AnnexEdge:Repositories[0]" },
        { "malformed UUID", Config(Repo("node1", Uuid1), Repo("node2", "not-a-uuid")), "AnnexEdge:Repositories[1] (node2): Uuid \"not-a-uuid\"" },
        { "upper-case UUID", Config(Repo("node1", Uuid1), Repo("node2", Uuid2.ToUpperInvariant())), "AnnexEdge:Repositories[1] (node2): Uuid" },
        { "bad backend URL", Config(Repo("node1", Uuid1), Repo("node2", Uuid2, ["ftp://127.0.0.1:9417"])), "AnnexEdge:Repositories[1] (node2): Backends[0] \"ftp://127.0.0.1:9417\"" },
        { "backend URL with the API path", Config(Repo("node1", Uuid1), Repo("node2", Uuid2, ["http://127.0.0.1:9417/git-annex/"])), "AnnexEdge:Repositories[1] (node2): Backends[0]" },
        { "no backend", Config(Repo("node1", Uuid1), Repo("node2", Uuid2, [])), "AnnexEdge:Repositories[1] (node2): Backends is empty" },
        { "no repositories", Config(), "AnnexEdge:Repositories is empty" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public async Task A_bad_config_stops_the_edge_with_one_line_naming_the_entry(string what, string config, string expected)
    {
        using var dir = new TempDirectory("config");
        var path = dir.Combine("annexedge.json");
        await File.WriteAllTextAsync(path, config, TestContext.Current.CancellationToken);

        var result = await EdgeProcess.RunToExitAsync("--config", path);

        Assert.True(result.ExitCode != 0, $"{what}: exit code 0\n{result.Output}");
        var errors = ErrorLines(result.Output);
        var line = Assert.Single(errors);
        Assert.Contains(expected, line);
    }

    [Fact]
    public async Task A_missing_config_file_stops_the_edge_naming_the_file()
    {
        using var dir = new TempDirectory("config");
        var path = dir.Combine("absent.json");

        var result = await EdgeProcess.RunToExitAsync("--config", path);

        Assert.True(result.ExitCode != 0, result.Output);
        var line = Assert.Single(ErrorLines(result.Output));
        Assert.Contains("absent.json", line);
    }

    [Fact]
    public async Task Check_config_accepts_a_good_config_and_exits_0()
    {
        using var dir = new TempDirectory("config");
        var path = dir.Combine("annexedge.json");
        await File.WriteAllTextAsync(path, Config(Repo("node1", Uuid1), Repo("node2", Uuid2, ["http://127.0.0.1:9417", "http://127.0.0.1:9418"])), TestContext.Current.CancellationToken);

        var result = await EdgeProcess.RunToExitAsync("check-config", "--config", path);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Empty(ErrorLines(result.Output));
        Assert.Contains("configuration is valid (2 repositories)", result.Output);
    }

    private static string[] ErrorLines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("AnnexEdge:", StringComparison.Ordinal) && !l.Contains("configuration is valid"))
            .ToArray();

    private static JsonObject Repo(string name, string uuid, string[]? backends = null) => new()
    {
        ["Name"] = name,
        ["Uuid"] = uuid,
        ["Backends"] = new JsonArray((backends ?? ["http://127.0.0.1:9417"]).Select(b => (JsonNode)JsonValue.Create(b)!).ToArray()),
    };

    private static string Config(params JsonObject[] repositories) => new JsonObject
    {
        ["AnnexEdge"] = new JsonObject
        {
            ["Repositories"] = new JsonArray(repositories.Cast<JsonNode>().ToArray()),
            ["Locking"] = new JsonObject { ["TokenKey"] = EdgeProcess.TestTokenKey },
        },
    }.ToJsonString();
}
