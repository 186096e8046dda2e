using System.Security.Cryptography;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Git;

/// <summary>
/// One origin: a real <c>git clone http(s)://edge/NAME</c> of the cluster's gateway repository through the edge, after
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

        await CloneCopyAndGetAsync(lab, edge, environment: null);
    }

    [Fact]
    public async Task Clone_over_https_with_a_test_ca_then_copy_to_the_cluster_and_get_need_no_annexUrl()
    {
        await using var lab = await ClusterLab.StartAsync(withClient: false);
        using var certificates = new TempDirectory("git-ca");
        var (ca, pem, key) = TestCa.Write(certificates);
        await using var edge = await EdgeHost.StartAsync(
            lab.EdgeConfig(c => c["Clusters"]![0]!["GitDirectory"] = lab.GatewayPath),
            "https://127.0.0.1:0",
            $"--Kestrel:Certificates:Default:Path={pem}",
            $"--Kestrel:Certificates:Default:KeyPath={key}");
        Assert.StartsWith("https://", edge.ListenUrl, StringComparison.Ordinal);

        // git (curl) trusts the CA file; git-annex (Haskell's x509-system) the certificates of a directory.
        await CloneCopyAndGetAsync(lab, edge, new Dictionary<string, string>
        {
            ["GIT_SSL_CAINFO"] = ca,
            ["SYSTEM_CERTIFICATE_PATH"] = Path.GetDirectoryName(ca)!,
        });
    }

    private static async Task CloneCopyAndGetAsync(ClusterLab lab, EdgeHost edge, IDictionary<string, string>? environment)
    {
        using var dir = new TempDirectory("clone");
        var clone = dir.Combine("mycluster");

        (await Git(dir.Path, environment, "clone", "-q", $"{edge.ListenUrl}/{ClusterLab.ClusterName}", clone)).EnsureSuccess("git clone through the edge");
        // Loopback only: git-annex refuses private addresses unless told (not an annexUrl).
        (await Git(clone, environment, "config", "annex.security.allowed-ip-addresses", "all")).EnsureSuccess("git config");
        (await Git(clone, environment, "annex", "init", "-q", "client")).EnsureSuccess("git annex init");
        var key = await AddRandomFileAsync(clone, "file.bin", 3 * 1024 * 1024 + 5);

        (await Git(clone, environment, "annex", "copy", "--to", "origin-mycluster", "file.bin")).EnsureSuccess("copy --to origin-mycluster");

        Assert.Equal(lab.Nodes.Select(n => n.Uuid).Order(StringComparer.Ordinal), await lab.HoldersAsync(key));
        Assert.Equal($"annex+{edge.ListenUrl}/git-annex/", (await Git(clone, environment, "config", "remote.origin.annexurl")).EnsureSuccess("annexUrl learnt").Output.Trim());
        var info = (await Git(clone, environment, "annex", "info", "origin")).EnsureSuccess("git annex info origin").Output;
        Assert.Contains(lab.GatewayUuid, info, StringComparison.Ordinal);
        Assert.Contains("mycluster", info, StringComparison.Ordinal);

        (await Git(clone, environment, "annex", "drop", "file.bin")).EnsureSuccess("drop");
        (await Git(clone, environment, "annex", "get", "file.bin")).EnsureSuccess("get");
        (await Git(clone, environment, "annex", "fsck", "-q", "file.bin")).EnsureSuccess("fsck");
        await edge.RequestEventAsync("GET", "/mycluster/config", 200);
    }

    /// <summary>Runs git in a repository.</summary>
    internal static Task<ProcessRunner.Result> Git(string repository, params string[] args) => Git(repository, null, args);

    private static Task<ProcessRunner.Result> Git(string repository, IDictionary<string, string>? environment, params string[] args) =>
        ProcessRunner.RunAsync("git", args, repository, environment, TimeSpan.FromMinutes(10), TestContext.Current.CancellationToken);

    private static async Task<string> AddRandomFileAsync(string repository, string name, int size)
    {
        var bytes = new byte[size];
        RandomNumberGenerator.Fill(bytes);
        await File.WriteAllBytesAsync(Path.Combine(repository, name), bytes, TestContext.Current.CancellationToken);
        (await Git(repository, "annex", "add", "-q", name)).EnsureSuccess("git annex add");
        (await Git(repository, "commit", "-q", "-m", "add " + name)).EnsureSuccess("git commit");
        return (await Git(repository, "annex", "lookupkey", name)).EnsureSuccess("lookupkey").Output.Trim();
    }
}
