using System.Net;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>One edge in front of a backend whose lockcontent answer each test sets.</summary>
public sealed class LockContentBackend : IAsyncLifetime
{
    public WireMockServer Backend { get; } = WireMockServer.Start();

    public EdgeHost Edge { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Backend.Url!));

    /// <summary>From now on the backend answers lockcontent with this status and body.</summary>
    public void AnswerLockContent(int status, string body)
    {
        Backend.ResetMappings();
        Backend.Given(Request.Create().WithPath($"/git-annex/{FaultEdge.Uuid}/v4/lockcontent").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(status)
                .WithHeader("Content-Type", "application/json;charset=utf-8").WithBody(body));
    }

    public async ValueTask DisposeAsync()
    {
        await Edge.DisposeAsync();
        Backend.Dispose();
    }
}

/// <summary>
/// The edge reads every lockcontent answer before passing it on: only a well-formed answer reaches the client, and
/// nothing but a backend's genuine <c>{"locked":true,"lockid":...}</c> reaches it as a lock. An answer the edge
/// cannot read is a 502, which git-annex takes as "not locked".
/// </summary>
public sealed class LockContentAnswerTests(LockContentBackend fixture) : IClassFixture<LockContentBackend>
{
    /// <summary>Answers no p2phttp gives, by what is wrong with them.</summary>
    private static readonly Dictionary<string, string> Unreadable = new()
    {
        ["not JSON"] = "<html>locked</html>",
        ["cut-off JSON"] = "{\"locked\":tr",
        ["empty body"] = "",
        ["a JSON array"] = "[{\"locked\":true,\"lockid\":\"a\"}]",
        ["a bare JSON true"] = "true",
        ["locked as a string"] = "{\"locked\":\"yes\",\"lockid\":\"a\"}",
        ["locked as a number"] = "{\"locked\":1,\"lockid\":\"a\"}",
        ["no locked field"] = "{\"lockid\":\"a\"}",
        ["a lock without lockid"] = "{\"locked\":true}",
        ["a lock with an empty lockid"] = "{\"locked\":true,\"lockid\":\"\"}",
        ["a lock with a numeric lockid"] = "{\"locked\":true,\"lockid\":7}",
        ["a lock padded past 16 KiB"] = "{\"locked\":true,\"lockid\":\"a\",\"pad\":\"" + new string('x', 20_000) + "\"}",
        ["a lock padded to 1 MiB"] = "{\"locked\":true,\"lockid\":\"a\",\"pad\":\"" + new string('x', 1 << 20) + "\"}",
    };

    public static TheoryData<string> UnreadableAnswers => new(Unreadable.Keys);

    [Theory]
    [MemberData(nameof(UnreadableAnswers))]
    public async Task Unreadable_lockcontent_answer_becomes_502_and_never_a_lock(string what)
    {
        fixture.AnswerLockContent(200, Unreadable[what]);

        var (status, answer) = await LockContentAsync();

        Assert.True(status == HttpStatusCode.BadGateway, $"{what}: edge answered {(int)status} {answer}");
        Assert.DoesNotContain("\"locked\":true", answer.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_lock_passes_through_as_not_locked()
    {
        fixture.AnswerLockContent(200, "{\"locked\":false}");

        var (status, answer) = await LockContentAsync();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False((bool)JsonNode.Parse(answer)!["locked"]!);
    }

    [Fact]
    public async Task Granted_lock_passes_through_as_locked_with_the_edges_token_instead_of_the_backends_lockid()
    {
        const string backendLockId = "9a9a9a9a-0000-4000-8000-000000000001";
        fixture.AnswerLockContent(200, $"{{\"locked\":true,\"lockid\":\"{backendLockId}\"}}");

        var (status, answer) = await LockContentAsync();

        Assert.Equal(HttpStatusCode.OK, status);
        var json = JsonNode.Parse(answer)!;
        Assert.True((bool)json["locked"]!);
        var lockId = (string)json["lockid"]!;
        Assert.False(string.IsNullOrEmpty(lockId));
        Assert.NotEqual(backendLockId, lockId);
    }

    [Fact]
    public async Task Lockcontent_error_status_is_passed_on_as_an_error()
    {
        fixture.AnswerLockContent(500, "{\"locked\":true,\"lockid\":\"a\"}");

        var (status, _) = await LockContentAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, status);
    }

    private async Task<(HttpStatusCode Status, string Body)> LockContentAsync()
    {
        using var http = FaultEdge.NewClient();
        using var response = await http.PostAsync(
            fixture.Edge.Url + FaultEdge.PathOf("lockcontent"), null, TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }
}
