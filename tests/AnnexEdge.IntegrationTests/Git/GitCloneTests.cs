using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Git;

/// <summary>
/// One origin: a real <c>git clone http://edge/NAME</c> of the cluster's gateway repository through the edge, after
/// which git-annex finds the annex API by itself (the edge's <c>/NAME/config</c> gives <c>annex.url</c>) and reaches
/// the cluster and its nodes as <c>origin-mycluster</c> and <c>origin-nodeN</c>.
/// </summary>
public sealed class GitCloneTests
{
    [Fact]
    public async Task Clone_of_the_gateway_through_the_edge_then_copy_to_the_cluster_and_get_need_no_annexUrl()
    {
        await using var lab = await ClusterLab.StartAsync(withClient: false);
        await using var edge = await lab.StartEdgeAsync(c => c["Clusters"]![0]!["GitDirectory"] = lab.GatewayPath);
        using var dir = new TempDirectory("clone");
        var clone = dir.Combine("mycluster");

        (await Git(dir.Path, "clone", "-q", $"{edge.Url}/{ClusterLab.ClusterName}", clone)).EnsureSuccess("git clone through the edge");
        // Loopback only: git-annex refuses private addresses unless told (not an annexUrl).
        (await Git(clone, "config", "annex.security.allowed-ip-addresses", "all")).EnsureSuccess("git config");
        (await Git(clone, "annex", "init", "-q", "client")).EnsureSuccess("git annex init");
        var key = await AddRandomFileAsync(clone, "file.bin", 3 * 1024 * 1024 + 5);

        (await Git(clone, "annex", "copy", "--to", "origin-mycluster", "file.bin")).EnsureSuccess("copy --to origin-mycluster");

        Assert.Equal(lab.Nodes.Select(n => n.Uuid).Order(StringComparer.Ordinal), await lab.HoldersAsync(key));
        Assert.Equal(edge.AnnexUrl, (await Git(clone, "config", "remote.origin.annexurl")).EnsureSuccess("annexUrl learnt").Output.Trim());
        var info = (await Git(clone, "annex", "info", "origin")).EnsureSuccess("git annex info origin").Output;
        Assert.Contains(lab.GatewayUuid, info, StringComparison.Ordinal);
        Assert.Contains("mycluster", info, StringComparison.Ordinal);

        (await Git(clone, "annex", "drop", "file.bin")).EnsureSuccess("drop");
        (await Git(clone, "annex", "get", "file.bin")).EnsureSuccess("get");
        (await Git(clone, "annex", "fsck", "-q", "file.bin")).EnsureSuccess("fsck");
        await edge.RequestEventAsync("GET", "/mycluster/config", 200);
    }

    /// <summary>Runs git in a repository.</summary>
    internal static Task<ProcessRunner.Result> Git(string repository, params string[] args) =>
        ProcessRunner.RunAsync("git", args, repository, timeout: TimeSpan.FromMinutes(10), cancellationToken: TestContext.Current.CancellationToken);

    private static async Task<string> AddRandomFileAsync(string repository, string name, int size)
    {
        var bytes = new byte[size];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        await File.WriteAllBytesAsync(Path.Combine(repository, name), bytes, TestContext.Current.CancellationToken);
        (await Git(repository, "annex", "add", "-q", name)).EnsureSuccess("git annex add");
        (await Git(repository, "commit", "-q", "-m", "add " + name)).EnsureSuccess("git commit");
        return (await Git(repository, "annex", "lookupkey", name)).EnsureSuccess("lookupkey").Output.Trim();
    }
}
