using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// The permission matrix (anonymous / readonly / appendonly / full / wrong password x every endpoint) taken
/// through the real edge, for a repository UUID and a cluster UUID, and from a real
/// <c>git annex p2phttp --authenv-http</c> with the equivalent options: every status code must be the same.
/// </summary>
[Trait("Category", "Slow")]
public sealed class AccessMatrixTests
{
    private const string ClusterUuid = "ac5e0c4e-1d2f-8a3b-9c4d-5e6f7a8b9c0d";
    private const string GatewayUuid = "9a7e0a4e-1d2f-4a3b-9c4d-5e6f7a8b9c0d";

    public static TheoryData<string, string[]> Modes() => new()
    {
        { "none", [] },
        { "readonly", ["--unauth-readonly"] },
        { "readonly-nolocking", ["--unauth-readonly", "--unauth-nolocking"] },
        { "appendonly", ["--unauth-appendonly"] },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Edge_gives_the_same_status_codes_as_p2phttp_authenv_http_for_repository_and_cluster(string anonymous, string[] p2phttpOptions)
    {
        await using var node = await P2pNode.StartAsync("authnode", jobs: 32);
        var key = await AuthMatrix.AddPresentKeyAsync(node);
        using var reference = await AuthenvServer.StartAsync(node, AuthMatrix.Users, AuthMatrix.Password, p2phttpOptions);
        await using var edge = await EdgeHost.StartAsync(EdgeConfig(node, anonymous));
        using var http = AuthMatrix.NewClient();

        // With an anonymous mode p2phttp treats a wrong password as anonymous and answers 403 to it; the edge
        // answers 401 so the client asks again (docs/security.md). That row is compared only without one.
        var principals = anonymous == "none" ? AuthMatrix.Principals : AuthMatrix.Principals.Where(p => p != "wrong").ToArray();
        var expected = await AuthMatrix.TakeAsync(http, reference.Url, node.Uuid, key, principals);
        var viaRepository = await AuthMatrix.TakeAsync(http, edge.Url, node.Uuid, key, principals);
        var viaCluster = await AuthMatrix.TakeAsync(http, edge.Url, ClusterUuid, key, principals);

        TestContext.Current.SendDiagnosticMessage($"p2phttp ({anonymous}):\n{Format(expected)}");
        Assert.True(expected.Count == 9 * principals.Length, "the reference matrix is complete");
        foreach (var (via, matrix) in new[] { ("repository", viaRepository), ("cluster", viaCluster) })
        {
            if (Format(expected) != Format(matrix))
            {
                var differing = string.Join("\n", expected.Where(cell => matrix.GetValueOrDefault(cell.Key) != cell.Value)
                    .Select(cell => $"{cell.Key}: p2phttp {cell.Value}, edge {matrix.GetValueOrDefault(cell.Key)}"));
                // CI keeps the end of a message: the edge's warnings first, the differing cells last.
                var warnings = edge.Logs.Split('\n').Where(line => line.Contains(" WRN] ", StringComparison.Ordinal) || line.Contains(" ERR] ", StringComparison.Ordinal));
                Assert.Fail($"--- edge warnings\n{string.Join("\n", warnings.TakeLast(40))}\n--- through the {via} UUID the edge differs ({anonymous}):\n{differing}");
            }
        }
    }

    [Fact]
    public async Task A_wrong_password_gets_401_even_where_anonymous_clients_may_read()
    {
        await using var node = await P2pNode.StartAsync("authnode");
        var key = await AuthMatrix.AddPresentKeyAsync(node);
        await using var edge = await EdgeHost.StartAsync(EdgeConfig(node, "readonly"));
        using var http = AuthMatrix.NewClient();

        var matrix = await AuthMatrix.TakeAsync(http, edge.Url, node.Uuid, key, ["wrong"]);

        Assert.All(matrix, cell => Assert.Equal(401, cell.Value));
    }

    /// <summary>The edge in front of a wide-open node, with the matrix's users and the anonymous mode given.</summary>
    internal static JsonObject EdgeConfig(P2pNode node, string anonymous)
    {
        var config = EdgeHost.ConfigFor(node);
        config["Uuid"] = GatewayUuid;
        config["Clusters"] = new JsonArray(new JsonObject
        {
            ["Name"] = "mycluster",
            ["Uuid"] = ClusterUuid,
            ["Nodes"] = new JsonArray(node.Name),
        });
        var hash = PasswordHash.Create(AuthMatrix.Password, PasswordHash.MinimumIterations);
        config["Users"] = new JsonArray(AuthMatrix.Users.Select(u => (JsonNode)new JsonObject
        {
            ["Name"] = u.Key,
            ["PasswordHash"] = hash,
            ["Access"] = new JsonObject { ["*"] = u.Value ?? "full" },
        }).ToArray());
        config["Anonymous"] = new JsonObject { ["*"] = anonymous.Split('-')[0] };
        config["AnonymousLocking"] = !anonymous.EndsWith("-nolocking", StringComparison.Ordinal);
        config["AllowBasicAuthOverHttp"] = true;
        return config;
    }

    private static string Format(SortedDictionary<string, int> matrix) =>
        string.Join("\n", matrix.Select(cell => $"{cell.Key} {cell.Value}"));
}
