//! `rolecall bench ceiling-server`: an `Authorizer` that answers every call
//! without doing any work, served exactly as the real one is
//! ([`crate::grpc::serve`]: the same router with health and reflection, the
//! same listener with TCP_NODELAY, the same tonic settings). Loading it
//! measures the floor of tonic and loopback on a machine, so that the real
//! Authorizer's throughput and latency can be read against it.

use tonic::{Request, Response, Status};

use crate::pb::v1 as pb;
use crate::pb::v1::authorizer_server::Authorizer;

/// Answers `Check` with a default (denied) `CheckResponse`, `BatchCheck`
/// with one default result per item, `ListPermissions` and the lookups with
/// empty lists; it reads nothing but the batch's length.
#[derive(Debug, Clone, Copy, Default)]
pub struct CeilingAuthorizer;

#[tonic::async_trait]
impl Authorizer for CeilingAuthorizer {
    async fn check(
        &self,
        _request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        Ok(Response::new(pb::CheckResponse::default()))
    }

    async fn batch_check(
        &self,
        request: Request<pb::BatchCheckRequest>,
    ) -> Result<Response<pb::BatchCheckResponse>, Status> {
        let items = request.get_ref().items.len();
        Ok(Response::new(pb::BatchCheckResponse {
            results: vec![pb::CheckResponse::default(); items],
            revision: 0,
        }))
    }

    async fn list_permissions(
        &self,
        _request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        Ok(Response::new(pb::ListPermissionsResponse::default()))
    }

    async fn lookup_accounts(
        &self,
        _request: Request<pb::LookupAccountsRequest>,
    ) -> Result<Response<pb::LookupAccountsResponse>, Status> {
        Ok(Response::new(pb::LookupAccountsResponse::default()))
    }

    async fn lookup_users(
        &self,
        _request: Request<pb::LookupUsersRequest>,
    ) -> Result<Response<pb::LookupUsersResponse>, Status> {
        Ok(Response::new(pb::LookupUsersResponse::default()))
    }
}
