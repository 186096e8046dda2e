using System.Text;
using AnnexEdge.Protocol;

namespace AnnexEdge.Tests.Protocol;

/// <summary>
/// The expected statuses and texts are those measured on git-annex 10.20250416's <c>git annex p2phttp</c>
/// (see /work/shared/reference/p2phttp-observed.md); every case here was checked against a real node.
/// </summary>
public sealed class P2pRequestParserTests
{
    private const string Uuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string Client = "7c1a4a8e-5d6f-4b2c-9a0e-3f1b2c3d4e5f";
    private const string Key = "SHA256E-s6--5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    private const string Base = "/git-annex/" + Uuid;
    private const string Base64Error = "unable to base64 decode [] wrapped value";

    private static P2pParseResult Parse(string method, string path, string? query = null, string? dataLength = null) =>
        P2pRequestParser.Parse(method, path, query, dataLength);

    private static P2pRequest Accepted(P2pParseResult result)
    {
        Assert.Null(result.Rejection);
        Assert.NotNull(result.Request);
        return result.Request;
    }

    private static void Rejected(P2pParseResult result, int status, string body)
    {
        Assert.Null(result.Request);
        Assert.NotNull(result.Rejection);
        Assert.Equal(status, result.Rejection.StatusCode);
        Assert.Equal(body, result.Rejection.Body);
    }

    private static string B64(string value) => "[" + Convert.ToBase64String(Encoding.UTF8.GetBytes(value)).Replace('+', '-').Replace('/', '_') + "]";

    /// <summary>A well-formed request of each endpoint at a version segment.</summary>
    private static (string Method, string Path, string Query, string? DataLength) Valid(string endpoint, string version) => endpoint switch
    {
        "key" => ("GET", $"{Base}/{version}/key/{Key}", $"?clientuuid={Client}", null),
        "checkpresent" or "lockcontent" or "remove" or "putoffset" => ("POST", $"{Base}/{version}/{endpoint}", $"?key={Key}&clientuuid={Client}", null),
        "keeplocked" => ("POST", $"{Base}/{version}/keeplocked", $"?lockid=lock-1&clientuuid={Client}", null),
        "remove-before" => ("POST", $"{Base}/{version}/remove-before", $"?key={Key}&clientuuid={Client}&timestamp=5", null),
        "gettimestamp" => ("POST", $"{Base}/{version}/gettimestamp", $"?clientuuid={Client}", null),
        "put" => ("POST", $"{Base}/{version}/put", $"?key={Key}&clientuuid={Client}", "6"),
        _ => throw new ArgumentOutOfRangeException(nameof(endpoint)),
    };

    // The oldest version of each endpoint, as the protocol document lists them.
    public static TheoryData<string, int, P2pEndpoint?> EndpointVersions()
    {
        var data = new TheoryData<string, int, P2pEndpoint?>();
        (string Name, int Min, P2pEndpoint Endpoint)[] endpoints =
        [
            ("key", 0, P2pEndpoint.Key), ("checkpresent", 0, P2pEndpoint.CheckPresent), ("lockcontent", 0, P2pEndpoint.LockContent),
            ("keeplocked", 0, P2pEndpoint.KeepLocked), ("remove", 0, P2pEndpoint.Remove), ("remove-before", 3, P2pEndpoint.RemoveBefore),
            ("gettimestamp", 3, P2pEndpoint.GetTimestamp), ("put", 0, P2pEndpoint.Put), ("putoffset", 1, P2pEndpoint.PutOffset),
        ];
        foreach (var (name, min, endpoint) in endpoints)
        {
            for (var v = 0; v <= 4; v++)
            {
                data.Add(name, v, v >= min ? endpoint : null);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EndpointVersions))]
    public void Each_endpoint_is_served_from_its_first_version_and_bad_version_before(string endpoint, int version, P2pEndpoint? expected)
    {
        var (method, path, query, length) = Valid(endpoint, "v" + version);
        var result = Parse(method, path, query, length);
        if (expected is null)
        {
            Rejected(result, 400, "bad version");
            return;
        }

        var request = Accepted(result);
        Assert.Equal(expected, request.Endpoint);
        Assert.Equal(version, request.Version);
        Assert.Equal(version, request.EffectiveVersion);
        Assert.Equal(Uuid, request.Uuid);
    }

    [Theory]
    [InlineData("key", "v5")]
    [InlineData("key", "v9")]
    [InlineData("checkpresent", "v5")]
    [InlineData("checkpresent", "v10")]
    [InlineData("checkpresent", "V4")]
    [InlineData("checkpresent", "4")]
    [InlineData("checkpresent", "v04")]
    [InlineData("checkpresent", "v")]
    [InlineData("checkpresent", "v-1")]
    [InlineData("checkpresent", "vx")]
    [InlineData("gettimestamp", "v5")]
    [InlineData("put", "v7")]
    public void Unknown_version_is_bad_version(string endpoint, string version)
    {
        var (method, path, query, length) = Valid(endpoint, version);
        Rejected(Parse(method, path, query, length), 400, "bad version");
    }

    [Theory]
    [InlineData("key", "GET", true)]
    [InlineData("key", "HEAD", true)]
    [InlineData("key", "POST", false)]
    [InlineData("key", "PUT", false)]
    [InlineData("key", "DELETE", false)]
    [InlineData("checkpresent", "POST", true)]
    [InlineData("checkpresent", "GET", false)]
    [InlineData("checkpresent", "HEAD", false)]
    [InlineData("checkpresent", "PUT", false)]
    [InlineData("lockcontent", "GET", false)]
    [InlineData("keeplocked", "GET", false)]
    [InlineData("remove", "DELETE", false)]
    [InlineData("remove-before", "GET", false)]
    [InlineData("gettimestamp", "GET", false)]
    [InlineData("put", "PUT", false)]
    [InlineData("put", "GET", false)]
    [InlineData("putoffset", "GET", false)]
    [InlineData("putoffset", "post", false)]
    public void Versioned_request_with_a_wrong_method_is_bad_version(string endpoint, string method, bool accepted)
    {
        var (_, path, query, length) = Valid(endpoint, "v4");
        var result = Parse(method, path, query, length);
        if (accepted)
        {
            Accepted(result);
        }
        else
        {
            Rejected(result, 400, "bad version");
        }
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public void Unversioned_key_is_read_without_any_parameter(string method)
    {
        var request = Accepted(Parse(method, $"{Base}/key/{Key}", null));
        Assert.Equal(P2pEndpoint.Key, request.Endpoint);
        Assert.Null(request.Version);
        Assert.Equal(0, request.EffectiveVersion);
        Assert.Equal(Key, request.Key);
        Assert.Null(request.ClientUuid);
        Assert.Empty(request.Bypass);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public void Unversioned_key_with_another_method_is_405(string method)
    {
        Rejected(Parse(method, $"{Base}/key/{Key}", $"?clientuuid={Client}"), 405, "");
    }

    [Fact]
    public void Unversioned_key_checks_the_key_before_the_method()
    {
        Rejected(Parse("POST", $"{Base}/key/notakey"), 400, "key parse error");
        Rejected(Parse("POST", $"{Base}/key/[!!!!]"), 400, Base64Error);
        Rejected(Parse("POST", $"/git-annex/[!!!!]/key/{Key}"), 400, Base64Error);
    }

    [Fact]
    public void Unversioned_key_still_refuses_a_malformed_clientuuid_or_bypass()
    {
        Rejected(Parse("GET", $"{Base}/key/{Key}", "?clientuuid=[!!!!]&bypass=[!!!!]"), 400, "Error parsing query parameter clientuuid failed: " + Base64Error);
        Rejected(Parse("GET", $"{Base}/key/{Key}", "?clientuuid="), 400, "Error parsing query parameter clientuuid failed: empty UUID");
        Rejected(Parse("GET", $"{Base}/key/{Key}", "?bypass=[!!!!]"), 400, "Error parsing query parameter(s) bypass failed: " + Base64Error);
    }

    [Fact]
    public void Unversioned_key_ignores_offset_and_associatedfile()
    {
        var request = Accepted(Parse("GET", $"{Base}/key/{Key}", $"?offset=zz&associatedfile=[!!!!]&clientuuid={Client}&bypass=[YQ==]"));
        Assert.Null(request.Offset);
        Assert.Null(request.AssociatedFile);
        Assert.Equal(Client, request.ClientUuid);
        Assert.Equal(["a"], request.Bypass);
    }

    [Fact]
    public void Unversioned_key_without_value_for_clientuuid_is_as_if_absent()
    {
        Assert.Null(Accepted(Parse("GET", $"{Base}/key/{Key}", "?clientuuid")).ClientUuid);
    }

    [Theory]
    [InlineData("checkpresent")]
    [InlineData("put")]
    [InlineData("remove-before")]
    public void Unversioned_shape_naming_an_endpoint_is_bad_version(string endpoint)
    {
        // "UUID/key/checkpresent" is also the route "UUID/{version}/checkpresent" with version "key".
        Rejected(Parse("GET", $"{Base}/key/{endpoint}"), 400, "bad version");
        Rejected(Parse("POST", $"{Base}/key/{endpoint}"), 400, "bad version");
    }

    [Fact]
    public void Unversioned_key_named_key_is_a_key_parse_error()
    {
        Rejected(Parse("GET", $"{Base}/key/key"), 400, "key parse error");
    }

    [Theory]
    [InlineData("/git-annex/" + Uuid + "/v4/nothing")]
    [InlineData("/git-annex/" + Uuid + "/v5/nothing")]
    [InlineData("/git-annex/" + Uuid + "/v4/CHECKPRESENT")]
    [InlineData("/git-annex/[!!!!]/v4/nothing")]
    [InlineData("/git-annex//v4/nothing")]
    [InlineData("/git-annex/" + Uuid + "/v4/checkpresent/extra")]
    [InlineData("/git-annex/" + Uuid + "/v4/key/" + Key + "/extra")]
    public void Unknown_endpoint_is_404_with_empty_body(string path)
    {
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid={Client}"), 404, "");
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/foo")]
    [InlineData("/git-annex")]
    [InlineData("/GIT-ANNEX/" + Uuid + "/v4/checkpresent")]
    [InlineData("/git-annexx/" + Uuid + "/v4/checkpresent")]
    [InlineData("/git-annex/")]
    [InlineData("/git-annex//")]
    [InlineData("/git-annex///")]
    [InlineData("/git-annex/" + Uuid)]
    [InlineData("/git-annex/" + Uuid + "/")]
    [InlineData("/git-annex/" + Uuid + "/v4")]
    [InlineData("/git-annex/" + Uuid + "/v4/")]
    [InlineData("/git-annex/" + Uuid + "/key")]
    [InlineData("/git-annex/" + Uuid + "/key/")]
    [InlineData("/git-annex/" + Uuid + "/v4/key")]
    [InlineData("/git-annex/" + Uuid + "/v4/key/")]
    [InlineData("/git-annex/" + Uuid + "//v4/checkpresent")]
    [InlineData("/git-annex/" + Uuid + "/v4//checkpresent")]
    [InlineData("/git-annex/" + Uuid + "/v4/checkpresent//")]
    [InlineData("/git-annex//v4/checkpresent//")]
    [InlineData("/git-annex/" + Uuid + "/key/" + Key + "//")]
    [InlineData("/git-annex/" + Uuid + "/v4/key/" + Key + "//")]
    public void Path_that_is_no_route_is_404(string path)
    {
        Rejected(Parse("GET", path, $"?key={Key}&clientuuid={Client}"), 404, "");
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid={Client}"), 404, "");
    }

    [Fact]
    public void One_trailing_slash_is_ignored()
    {
        Assert.Equal(P2pEndpoint.CheckPresent, Accepted(Parse("POST", $"{Base}/v4/checkpresent/", $"?key={Key}&clientuuid={Client}")).Endpoint);
        Assert.Equal(Key, Accepted(Parse("GET", $"{Base}/v4/key/{Key}/", $"?clientuuid={Client}")).Key);
        Assert.Equal(Key, Accepted(Parse("GET", $"{Base}/key/{Key}/")).Key);
    }

    [Fact]
    public void Empty_segment_where_a_value_is_expected_fails_that_value()
    {
        Rejected(Parse("POST", "/git-annex//v4/checkpresent", $"?key={Key}&clientuuid={Client}"), 400, "empty UUID");
        Rejected(Parse("POST", "/git-annex//v4/checkpresent/", $"?key={Key}&clientuuid={Client}"), 400, "empty UUID");
        Rejected(Parse("GET", $"/git-annex//key/{Key}"), 400, "empty UUID");
        Rejected(Parse("GET", $"/git-annex///key/{Key}"), 400, "empty UUID");
        Rejected(Parse("POST", $"{Base}//checkpresent", $"?key={Key}&clientuuid={Client}"), 400, "bad version");
        Rejected(Parse("GET", $"{Base}//key/{Key}", $"?clientuuid={Client}"), 400, "bad version");
        Rejected(Parse("GET", $"{Base}/v4/key//", $"?clientuuid={Client}"), 400, "key parse error");
        Rejected(Parse("GET", $"{Base}/key//"), 400, "key parse error");
    }

    [Fact]
    public void Path_uuid_is_parsed_before_the_version_and_the_method()
    {
        Rejected(Parse("POST", "/git-annex/[!!!!]/v9/checkpresent", $"?key={Key}&clientuuid={Client}"), 400, Base64Error);
        Rejected(Parse("GET", "/git-annex/[!!!!]/v4/checkpresent", $"?key={Key}&clientuuid={Client}"), 400, Base64Error);
        Rejected(Parse("POST", "/git-annex/[!!!!]/v0/gettimestamp", $"?clientuuid={Client}"), 400, Base64Error);
        Rejected(Parse("GET", "/git-annex/[]/v4/checkpresent", $"?key={Key}&clientuuid={Client}"), 400, "empty UUID");
        Rejected(Parse("GET", "/git-annex/[!!!!]/v4/key/notakey", $"?clientuuid={Client}"), 400, Base64Error);
        Rejected(Parse("POST", "/git-annex/[abc]/v4/checkpresent", $"?key={Key}&clientuuid={Client}"), 400, Base64Error);
    }

    [Fact]
    public void Path_key_is_parsed_after_the_version_and_before_the_method()
    {
        Rejected(Parse("GET", $"{Base}/v9/key/notakey", $"?clientuuid={Client}"), 400, "bad version");
        Rejected(Parse("GET", $"{Base}/v4/key/notakey", $"?clientuuid={Client}"), 400, "key parse error");
        Rejected(Parse("POST", $"{Base}/v4/key/notakey", $"?clientuuid={Client}"), 400, "key parse error");
        Rejected(Parse("GET", $"{Base}/v4/key/[!!!!]", $"?clientuuid={Client}"), 400, Base64Error);
        Rejected(Parse("GET", $"{Base}/v4/key/[]", $"?clientuuid={Client}"), 400, "key parse error");
        Rejected(Parse("GET", $"{Base}/key/[]"), 400, "key parse error");
    }

    [Fact]
    public void Method_is_checked_before_the_parameters()
    {
        Rejected(Parse("GET", $"{Base}/v4/checkpresent", "?key=notakey"), 400, "bad version");
        Rejected(Parse("POST", $"{Base}/v4/key/{Key}", "?clientuuid=[!!!!]"), 400, "bad version");
    }

    [Theory]
    [InlineData("checkpresent")]
    [InlineData("lockcontent")]
    [InlineData("remove")]
    [InlineData("remove-before")]
    [InlineData("put")]
    [InlineData("putoffset")]
    public void Missing_key_is_reported_before_missing_clientuuid(string endpoint)
    {
        Rejected(Parse("POST", $"{Base}/v4/{endpoint}", null, "6"), 400, "Query parameter key is required");
        Rejected(Parse("POST", $"{Base}/v4/{endpoint}", "?key", "6"), 400, "Query parameter key is required");
        Rejected(Parse("POST", $"{Base}/v4/{endpoint}", $"?clientuuid={Client}&key=notakey", "6"), 400, "Error parsing query parameter key failed: key parse error");
        Rejected(Parse("POST", $"{Base}/v4/{endpoint}", "?clientuuid=[!!!!]&bypass=[!!!!]", "6"), 400, "Query parameter key is required");
        Rejected(Parse("POST", $"{Base}/v4/{endpoint}", $"?key={Key}", "6"), 400, "Query parameter clientuuid is required");
    }

    [Theory]
    [InlineData("key=", "Error parsing query parameter key failed: key parse error")]
    [InlineData("key=notakey", "Error parsing query parameter key failed: key parse error")]
    [InlineData("key=[]", "Error parsing query parameter key failed: key parse error")]
    [InlineData("key=[!!!!]", "Error parsing query parameter key failed: " + Base64Error)]
    [InlineData("key=" + Key + "&clientuuid", "Query parameter clientuuid is required")]
    [InlineData("key=" + Key + "&clientuuid=", "Error parsing query parameter clientuuid failed: empty UUID")]
    [InlineData("key=" + Key + "&clientuuid=[]", "Error parsing query parameter clientuuid failed: empty UUID")]
    [InlineData("key=" + Key + "&clientuuid=[!!!!]", "Error parsing query parameter clientuuid failed: " + Base64Error)]
    [InlineData("key=" + Key + "&clientuuid=c&bypass=[!!!!]", "Error parsing query parameter(s) bypass failed: " + Base64Error)]
    [InlineData("key=" + Key + "&clientuuid=c&bypass=", "Error parsing query parameter(s) bypass failed: empty UUID")]
    [InlineData("key=" + Key + "&clientuuid=c&bypass=[YQ==]&bypass=[]", "Error parsing query parameter(s) bypass failed: empty UUID")]
    [InlineData("key=notakey&clientuuid=c&bypass=[!!!!]", "Error parsing query parameter key failed: key parse error")]
    [InlineData("clientuuid=[!!!!]&key=notakey", "Error parsing query parameter key failed: key parse error")]
    public void Checkpresent_parameter_errors(string query, string body)
    {
        Rejected(Parse("POST", $"{Base}/v4/checkpresent", "?" + query), 400, body);
    }

    [Fact]
    public void Parameters_an_endpoint_does_not_have_are_ignored()
    {
        Accepted(Parse("POST", $"{Base}/v4/checkpresent", $"?key={Key}&clientuuid=c&offset=zz&associatedfile=[!!!!]&timestamp=zz&lockid=[!!!!]&data-present=zz"));
        Accepted(Parse("POST", $"{Base}/v4/gettimestamp", "?key=notakey&clientuuid=c"));
        Accepted(Parse("POST", $"{Base}/v4/keeplocked", "?lockid=x&key=notakey"));
        Accepted(Parse("POST", $"{Base}/v4/putoffset", $"?key={Key}&clientuuid=c&offset=zz&associatedfile=[!!!!]&data-present=zz"));
        Assert.Null(Accepted(Parse("POST", $"{Base}/v4/lockcontent", $"?key={Key}&clientuuid=c&lockid=x")).LockId);
    }

    [Fact]
    public void Gettimestamp_needs_only_clientuuid()
    {
        Rejected(Parse("POST", $"{Base}/v4/gettimestamp", null), 400, "Query parameter clientuuid is required");
        Rejected(Parse("POST", $"{Base}/v4/gettimestamp", "?clientuuid=c&bypass=[!!!!]"), 400, "Error parsing query parameter(s) bypass failed: " + Base64Error);
        var request = Accepted(Parse("POST", $"{Base}/v3/gettimestamp", "?clientuuid=c"));
        Assert.Null(request.Key);
        Assert.Equal("c", request.ClientUuid);
    }

    [Fact]
    public void Keeplocked_needs_lockid_first()
    {
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", null), 400, "Query parameter lockid is required");
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", "?clientuuid=c"), 400, "Query parameter lockid is required");
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", "?clientuuid=[!!!!]"), 400, "Query parameter lockid is required");
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", "?lockid"), 400, "Query parameter lockid is required");
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", "?lockid="), 400, "Error parsing query parameter lockid failed: empty UUID");
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", "?lockid=[]"), 400, "Error parsing query parameter lockid failed: empty UUID");
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", "?lockid=[!!!!]&clientuuid=[!!!!]"), 400, "Error parsing query parameter lockid failed: " + Base64Error);
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", "?lockid=x&clientuuid=[!!!!]"), 400, "Error parsing query parameter clientuuid failed: " + Base64Error);
        Rejected(Parse("POST", $"{Base}/v4/keeplocked", "?lockid=x&clientuuid=c&bypass=[!!!!]"), 400, "Error parsing query parameter(s) bypass failed: " + Base64Error);
    }

    [Fact]
    public void Keeplocked_without_clientuuid_is_accepted()
    {
        var request = Accepted(Parse("POST", $"{Base}/v4/keeplocked", "?lockid=lock-1"));
        Assert.Equal(P2pEndpoint.KeepLocked, request.Endpoint);
        Assert.Equal("lock-1", request.LockId);
        Assert.Null(request.ClientUuid);
        Assert.Null(request.Key);
    }

    [Fact]
    public void Keeplocked_lockid_may_be_bracketed()
    {
        Assert.Equal("lock id/1", Accepted(Parse("POST", $"{Base}/v4/keeplocked", $"?lockid={B64("lock id/1")}&clientuuid=c")).LockId);
    }

    [Fact]
    public void Remove_before_checks_key_clientuuid_bypass_then_timestamp()
    {
        var path = $"{Base}/v4/remove-before";
        Rejected(Parse("POST", path, "?clientuuid=c&timestamp=zz"), 400, "Query parameter key is required");
        Rejected(Parse("POST", path, $"?key={Key}&timestamp=zz"), 400, "Query parameter clientuuid is required");
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid=c&bypass=[!!!!]&timestamp=zz"), 400, "Error parsing query parameter(s) bypass failed: " + Base64Error);
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid=c"), 400, "Query parameter timestamp is required");
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid=c&timestamp"), 400, "Query parameter timestamp is required");
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid=c&timestamp="), 400, "Error parsing query parameter timestamp failed: timestamp parse error");
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid=c&timestamp=zz"), 400, "Error parsing query parameter timestamp failed: timestamp parse error");
    }

    [Theory]
    [InlineData("5", 5L)]
    [InlineData("-5", -5L)]
    [InlineData("%20%2012%20", 12L)]
    [InlineData("99999999999999999999999", long.MaxValue)]
    public void Remove_before_reads_the_timestamp(string raw, long expected)
    {
        Assert.Equal(expected, Accepted(Parse("POST", $"{Base}/v3/remove-before", $"?key={Key}&clientuuid=c&timestamp={raw}")).Timestamp);
    }

    [Fact]
    public void Get_checks_clientuuid_bypass_associatedfile_then_offset()
    {
        var path = $"{Base}/v4/key/{Key}";
        Rejected(Parse("GET", path, null), 400, "Query parameter clientuuid is required");
        Rejected(Parse("GET", path, "?offset=zz&associatedfile=[!!!!]&bypass=[!!!!]"), 400, "Query parameter clientuuid is required");
        Rejected(Parse("GET", path, "?clientuuid&clientuuid=c"), 400, "Query parameter clientuuid is required");
        Rejected(Parse("GET", path, "?associatedfile=[!!!!]&bypass=[!!!!]&clientuuid=[!!!!]"), 400, "Error parsing query parameter clientuuid failed: " + Base64Error);
        Rejected(Parse("GET", path, "?clientuuid=c&associatedfile=[!!!!]&bypass=[!!!!]"), 400, "Error parsing query parameter(s) bypass failed: " + Base64Error);
        Rejected(Parse("GET", path, "?clientuuid=c&offset=zz&associatedfile=[!!!!]"), 400, "Error parsing query parameter associatedfile failed: " + Base64Error);
        Rejected(Parse("GET", path, "?clientuuid=c&offset=zz"), 400, "Error parsing query parameter offset failed: offset parse error");
    }

    [Theory]
    [InlineData("offset=2", 2L)]
    [InlineData("offset=%20%202%20", 2L)]
    [InlineData("offset=%092%0A", 2L)]
    [InlineData("offset=-1", -1L)]
    [InlineData("offset=0", 0L)]
    [InlineData("offset=99999999999999999999999999", long.MaxValue)]
    [InlineData("offset=2&offset=zz", 2L)]
    [InlineData("offset", null)]
    [InlineData("other=1", null)]
    public void Get_reads_the_offset(string query, long? expected)
    {
        Assert.Equal(expected, Accepted(Parse("GET", $"{Base}/v4/key/{Key}", $"?clientuuid=c&{query}")).Offset);
    }

    [Theory]
    [InlineData("offset=")]
    [InlineData("offset=zz")]
    [InlineData("offset=%2B1")]
    [InlineData("offset=1.0")]
    [InlineData("offset=--1")]
    [InlineData("offset=zz&offset=2")]
    public void Get_refuses_a_malformed_offset(string query)
    {
        Rejected(Parse("GET", $"{Base}/v4/key/{Key}", $"?clientuuid=c&{query}"), 400, "Error parsing query parameter offset failed: offset parse error");
    }

    [Theory]
    [InlineData("associatedfile=", "")]
    [InlineData("associatedfile", null)]
    [InlineData("associatedfile=dir/file.txt", "dir/file.txt")]
    [InlineData("associatedfile=a+b%20c", "a b c")]
    [InlineData("associatedfile=[W2Zvb10=]", "[foo]")]
    public void Get_reads_the_associated_file(string query, string? expected)
    {
        Assert.Equal(expected, Accepted(Parse("GET", $"{Base}/v4/key/{Key}", $"?clientuuid=c&{query}")).AssociatedFile);
    }

    [Fact]
    public void Put_without_data_length_header_is_refused_after_the_parameters()
    {
        var path = $"{Base}/v4/put";
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid=c"), 400, "Header X-git-annex-data-length is required");
        Rejected(Parse("POST", path, "?key=notakey"), 400, "Error parsing query parameter key failed: key parse error");
        Rejected(Parse("POST", path, $"?key={Key}"), 400, "Query parameter clientuuid is required");
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid=c&offset=zz"), 400, "Error parsing query parameter offset failed: offset parse error");
        Rejected(Parse("POST", path, $"?key={Key}&clientuuid=c&associatedfile=[!!!!]&offset=zz"), 400, "Error parsing query parameter associatedfile failed: " + Base64Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("zz")]
    [InlineData("1.5")]
    [InlineData("+3")]
    public void Put_with_malformed_data_length_is_refused(string header)
    {
        Rejected(
            Parse("POST", $"{Base}/v4/put", $"?key={Key}&clientuuid=c", header),
            400,
            "Error parsing header X-git-annex-data-length failed: X-git-annex-data-length parse error");
    }

    [Theory]
    [InlineData("3", 3L)]
    [InlineData(" 3 ", 3L)]
    [InlineData("-1", -1L)]
    [InlineData("99999999999999999999999", long.MaxValue)]
    public void Put_reads_the_data_length(string header, long expected)
    {
        Assert.Equal(expected, Accepted(Parse("POST", $"{Base}/v4/put", $"?key={Key}&clientuuid=c", header)).DataLength);
    }

    [Fact]
    public void Put_reads_offset_and_associated_file()
    {
        var request = Accepted(Parse("POST", $"{Base}/v1/put", $"?key={Key}&clientuuid=c&associatedfile=f&offset=4", "2"));
        Assert.Equal(4, request.Offset);
        Assert.Equal("f", request.AssociatedFile);
        Assert.Equal(2, request.DataLength);
        Assert.False(request.DataPresent);
    }

    [Theory]
    [InlineData("data-present=true", true)]
    [InlineData("data-present=True", true)]
    [InlineData("data-present=TRUE", true)]
    [InlineData("data-present=false", false)]
    [InlineData("data-present=FALSE", false)]
    [InlineData("data-present", false)]
    [InlineData("data-present&data-present=true", false)]
    [InlineData("data-present=true&data-present=zz", true)]
    public void Put_v4_reads_data_present(string query, bool expected)
    {
        Assert.Equal(expected, Accepted(Parse("POST", $"{Base}/v4/put", $"?key={Key}&clientuuid=c&{query}", "6")).DataPresent);
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("")]
    [InlineData("1")]
    [InlineData("0")]
    [InlineData("yes")]
    [InlineData("%20true")]
    [InlineData("true%20")]
    public void Put_v4_refuses_a_malformed_data_present(string value)
    {
        var shown = Uri.UnescapeDataString(value);
        Rejected(
            Parse("POST", $"{Base}/v4/put", $"?key={Key}&clientuuid=c&data-present={value}", "6"),
            400,
            $"Error parsing query parameter data-present failed: could not parse: `{shown}'");
    }

    [Fact]
    public void Put_v4_checks_data_present_before_every_other_parameter()
    {
        const string error = "Error parsing query parameter data-present failed: could not parse: `zz'";
        Rejected(Parse("POST", $"{Base}/v4/put", "?clientuuid=c&data-present=zz"), 400, error);
        Rejected(Parse("POST", $"{Base}/v4/put", $"?key={Key}&data-present=zz"), 400, error);
        Rejected(Parse("POST", $"{Base}/v4/put", $"?key=notakey&clientuuid=c&data-present=zz&bypass=[!!!!]&offset=zz"), 400, error);
        Rejected(Parse("POST", $"{Base}/v4/put", "?data-present=zz&data-present=true"), 400, error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Put_before_v4_ignores_data_present(int version)
    {
        var request = Accepted(Parse("POST", $"{Base}/v{version}/put", $"?key={Key}&clientuuid=c&data-present=zz", "3"));
        Assert.False(request.DataPresent);
        Assert.False(Accepted(Parse("POST", $"{Base}/v{version}/put", $"?key={Key}&clientuuid=c&data-present=true", "3")).DataPresent);
    }

    [Fact]
    public void Bracketed_base64_values_are_decoded()
    {
        var request = Accepted(Parse(
            "GET",
            $"/git-annex/{B64(Uuid)}/v4/key/{B64(Key)}",
            $"?clientuuid={B64(Client)}&bypass={B64("gw-1")}&bypass=gw2&associatedfile={B64("ü [x].txt")}"));
        Assert.Equal(Uuid, request.Uuid);
        Assert.Equal(Key, request.Key);
        Assert.Equal(Client, request.ClientUuid);
        Assert.Equal(["gw-1", "gw2"], request.Bypass);
        Assert.Equal("ü [x].txt", request.AssociatedFile);
    }

    [Fact]
    public void Bracketed_key_parameter_is_decoded_and_must_be_a_key()
    {
        Assert.Equal(Key, Accepted(Parse("POST", $"{Base}/v4/checkpresent", $"?key={B64(Key)}&clientuuid=[Yw==]")).Key);
        Rejected(Parse("POST", $"{Base}/v4/checkpresent", $"?key={B64("notakey")}&clientuuid=c"), 400, "Error parsing query parameter key failed: key parse error");
    }

    [Fact]
    public void Bracketed_path_uuid_and_unversioned_key_are_decoded()
    {
        var request = Accepted(Parse("GET", $"/git-annex/{B64(Uuid)}/key/{B64(Key)}"));
        Assert.Equal(Uuid, request.Uuid);
        Assert.Equal(Key, request.Key);
    }

    [Theory]
    [InlineData("c")]
    [InlineData("[x")]
    [InlineData("x]")]
    [InlineData("[")]
    public void A_value_not_wrapped_in_brackets_is_taken_literally(string clientUuid)
    {
        Assert.Equal(clientUuid, Accepted(Parse("POST", $"{Base}/v4/checkpresent", $"?key={Key}&clientuuid={Uri.EscapeDataString(clientUuid)}")).ClientUuid);
    }

    [Fact]
    public void Any_non_empty_string_is_a_uuid()
    {
        var request = Accepted(Parse("POST", "/git-annex/not-a-uuid/v4/checkpresent", $"?key={Key}&clientuuid=a+b"));
        Assert.Equal("not-a-uuid", request.Uuid);
        Assert.Equal("a b", request.ClientUuid);
    }

    [Fact]
    public void Duplicate_parameters_take_the_first()
    {
        var path = $"{Base}/v4/checkpresent";
        Assert.Equal(Key, Accepted(Parse("POST", path, $"?key={Key}&key=notakey&clientuuid=c")).Key);
        Rejected(Parse("POST", path, $"?key=notakey&key={Key}&clientuuid=c"), 400, "Error parsing query parameter key failed: key parse error");
        Assert.Equal("c", Accepted(Parse("POST", path, $"?key={Key}&clientuuid=c&clientuuid=[!!!!]")).ClientUuid);
        Assert.Equal("c", Accepted(Parse("POST", path, $"?key={Key}&clientuuid=c&clientuuid")).ClientUuid);
    }

    [Fact]
    public void Every_bypass_is_kept_in_order_and_one_without_value_is_skipped()
    {
        var request = Accepted(Parse("POST", $"{Base}/v4/checkpresent", $"?bypass=b&key={Key}&bypass&clientuuid=c&bypass=a"));
        Assert.Equal(["b", "a"], request.Bypass);
    }

    [Fact]
    public void Bypass_is_checked_on_every_version()
    {
        Rejected(Parse("POST", $"{Base}/v1/checkpresent", $"?key={Key}&clientuuid=c&bypass=[!!!!]"), 400, "Error parsing query parameter(s) bypass failed: " + Base64Error);
    }

    [Fact]
    public void Query_may_be_given_without_its_question_mark()
    {
        Assert.Equal(Key, Accepted(Parse("POST", $"{Base}/v4/lockcontent", $"key={Key}&clientuuid=c")).Key);
    }

    [Fact]
    public void Accepted_request_carries_every_value()
    {
        var request = Accepted(Parse("POST", $"{Base}/v4/remove", $"?key={Key}&clientuuid={Client}&bypass=g"));
        Assert.Equal(
            new P2pRequest
            {
                Uuid = Uuid,
                Version = 4,
                Endpoint = P2pEndpoint.Remove,
                Key = Key,
                ClientUuid = Client,
                Bypass = request.Bypass,
            },
            request);
        Assert.Equal(["g"], request.Bypass);
        Assert.Null(request.Offset);
        Assert.Null(request.Timestamp);
        Assert.Null(request.LockId);
        Assert.Null(request.AssociatedFile);
        Assert.Null(request.DataLength);
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("5", 5L)]
    [InlineData("007", 7L)]
    [InlineData(" 5 ", 5L)]
    [InlineData("\t5\n", 5L)]
    [InlineData("-5", -5L)]
    [InlineData("-0", 0L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("9223372036854775808", long.MaxValue)]
    [InlineData("99999999999999999999999999999", long.MaxValue)]
    [InlineData("-99999999999999999999999999999", -long.MaxValue)]
    public void Integer_is_read_as_haskell_reads_it(string raw, long expected)
    {
        Assert.True(P2pRequestParser.TryParseInteger(raw, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("-")]
    [InlineData("+1")]
    [InlineData("--1")]
    [InlineData("1.0")]
    [InlineData("1e3")]
    [InlineData("1 2")]
    [InlineData("zz")]
    [InlineData("٣")]
    public void Integer_that_is_not_one_is_refused(string raw)
    {
        Assert.False(P2pRequestParser.TryParseInteger(raw, out _));
    }
}
