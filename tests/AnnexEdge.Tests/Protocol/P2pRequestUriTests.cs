using AnnexEdge.Protocol;

namespace AnnexEdge.Tests.Protocol;

public sealed class P2pRequestUriTests
{
    private const string Uuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string Client = "c1e00000-0000-4000-8000-000000000001";
    private const string Key = "SHA256E-s1000--0f343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin";

    private static P2pRequest Parse(string method, string pathAndQuery, string? dataLength = null)
    {
        var q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var result = P2pRequestParser.Parse(method, q < 0 ? pathAndQuery : pathAndQuery[..q], q < 0 ? null : pathAndQuery[q..], dataLength);
        Assert.Null(result.Rejection);
        return result.Request!;
    }

    [Theory]
    [InlineData("POST", $"/git-annex/{Uuid}/v4/checkpresent?key={Key}&clientuuid={Client}")]
    [InlineData("POST", $"/git-annex/{Uuid}/v4/checkpresent?key={Key}&clientuuid={Client}&bypass=b1&bypass=b2")]
    [InlineData("GET", $"/git-annex/{Uuid}/v4/key/{Key}?clientuuid={Client}&associatedfile=[Zm9vL2Jhcg==]&offset=10")]
    [InlineData("GET", $"/git-annex/{Uuid}/key/{Key}")]
    [InlineData("POST", $"/git-annex/{Uuid}/v4/lockcontent?key={Key}&clientuuid={Client}")]
    [InlineData("POST", $"/git-annex/{Uuid}/v4/keeplocked?lockid=abc-def&clientuuid={Client}")]
    [InlineData("POST", $"/git-annex/{Uuid}/v4/keeplocked?lockid=abc-def")]
    [InlineData("POST", $"/git-annex/{Uuid}/v4/remove?key={Key}&clientuuid={Client}")]
    [InlineData("POST", $"/git-annex/{Uuid}/v3/remove-before?key={Key}&clientuuid={Client}&timestamp=12345")]
    [InlineData("POST", $"/git-annex/{Uuid}/v3/gettimestamp?clientuuid={Client}")]
    [InlineData("POST", $"/git-annex/{Uuid}/v1/putoffset?key={Key}&clientuuid={Client}")]
    [InlineData("POST", $"/git-annex/{Uuid}/v4/put?data-present=true&key={Key}&clientuuid={Client}&offset=3")]
    [InlineData("POST", $"/git-annex/{Uuid}/v0/put?key={Key}&clientuuid={Client}")]
    [InlineData("POST", $"/git-annex/[MDJlNGUyMjMtMGIzOS00OGZjLWEwMzEtZTVhNzNkNzRhZTky]/v4/checkpresent?key=[{"U0hBMjU2RS1zMS0teC5iaW4="}]&clientuuid={Client}")]
    public void A_written_request_parses_back_to_the_same_request(string method, string pathAndQuery)
    {
        var request = Parse(method, pathAndQuery, "1000");

        var written = P2pRequestUri.PathAndQuery(request);

        Assert.Equivalent(request, Parse(method, written, "1000"), strict: true);
    }

    [Fact]
    public void Parameters_the_edge_did_not_read_are_not_written()
    {
        // git-annex's server splits on ';' too: the first key is the one after it, as the edge now reads it.
        var request = Parse("POST", $"/git-annex/{Uuid}/v4/remove?x=1;key={Key}&key=DECOY&clientuuid={Client}&lockid=zzz&offset=5&evil=1");

        Assert.Equal($"/git-annex/{Uuid}/v4/remove?key={Key}&clientuuid={Client}", P2pRequestUri.PathAndQuery(request));
    }

    [Theory]
    [InlineData("URL--http://example.org/a?b=c&d")]
    [InlineData("SHA256E-s5--abc def.txt")]
    [InlineData("SHA256E-s5--[x].txt")]
    [InlineData("SHA256E-s5--naïve+plus%25.txt")]
    public void A_key_with_characters_unsafe_in_a_url_is_written_bracketed_and_reads_back(string key)
    {
        var request = new P2pRequest { Uuid = Uuid, Version = 4, Endpoint = P2pEndpoint.CheckPresent, Key = key, ClientUuid = Client };

        var written = P2pRequestUri.PathAndQuery(request);

        Assert.Contains("key=[", written, StringComparison.Ordinal);
        Assert.Equal(key, Parse("POST", written).Key);
    }

    [Fact]
    public void Parameters_of_other_endpoints_are_left_out()
    {
        var request = new P2pRequest
        {
            Uuid = Uuid, Version = 3, Endpoint = P2pEndpoint.GetTimestamp, Key = Key, ClientUuid = Client,
            Offset = 5, Timestamp = 9, LockId = "l", AssociatedFile = "f", DataPresent = true,
        };

        Assert.Equal($"/git-annex/{Uuid}/v3/gettimestamp?clientuuid={Client}", P2pRequestUri.PathAndQuery(request));
    }
}
