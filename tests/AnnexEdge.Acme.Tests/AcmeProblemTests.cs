namespace AnnexEdge.Acme.Tests;

public sealed class AcmeProblemTests
{
    [Fact]
    public void Problem_document_gives_name_status_detail_and_subproblems_with_identifiers()
    {
        var problem = AcmeProblem.Parse("""
            {"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Error creating new order :: Cannot issue for \"b.example\"","status":400,
             "subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Domain name contains an invalid character","identifier":{"type":"dns","value":"b.example"}}]}
            """, 400);

        Assert.Equal("rejectedIdentifier", problem.Name);
        Assert.Equal(400, problem.Status);
        Assert.False(problem.IsBadNonce);
        var sub = Assert.Single(problem.Subproblems);
        Assert.Equal("b.example", sub.Identifier);
        Assert.Equal("rejectedIdentifier (400): Error creating new order :: Cannot issue for \"b.example\"; b.example: rejectedIdentifier: Domain name contains an invalid character", problem.ToString());
    }

    [Fact]
    public void BadNonce_is_recognised_and_the_HTTP_status_fills_a_missing_status()
    {
        var problem = AcmeProblem.Parse("""{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"}""", 400);

        Assert.True(problem.IsBadNonce);
        Assert.Equal(400, problem.Status);
    }

    [Fact]
    public void A_body_that_is_not_JSON_becomes_a_problem_quoting_it()
    {
        var problem = AcmeProblem.Parse("<html>502 Bad Gateway</html>", 502);

        Assert.Equal("about:blank", problem.Type);
        Assert.Contains("502 Bad Gateway", problem.Detail);
        Assert.Equal(502, problem.Status);
    }
}
