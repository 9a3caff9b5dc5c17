#include "authmsg.h"

int authmsg_request(struct ipc_msg *m, struct request_in *q)
{
	return ipc_get_u32(m, &q->step) < 0 || ipc_get_str(m, &q->mech) < 0 ||
	       ipc_get_bytes(m, &q->sasl, &q->sasl_len) < 0 || ipc_get_str(m, &q->remote) < 0 ||
	       ipc_get_str(m, &q->sid) < 0 || ipc_get_u32(m, &q->tls) < 0 ||
	       ipc_get_end(m) < 0 ? -1 : 0;
}

int authmsg_plain(struct ipc_msg *m, struct plain_in *p)
{
	return ipc_get_str(m, &p->authzid) < 0 || ipc_get_str(m, &p->authcid) < 0 ||
	       ipc_get_str(m, &p->password) < 0 || ipc_get_end(m) < 0 ? -1 : 0;
}

int authmsg_scram_first(struct ipc_msg *m, struct scram_first_in *f)
{
	return ipc_get_str(m, &f->authzid) < 0 || ipc_get_str(m, &f->user) < 0 ||
	       ipc_get_str(m, &f->cnonce) < 0 || ipc_get_str(m, &f->cfb) < 0 ||
	       ipc_get_str(m, &f->gs2) < 0 || ipc_get_u32(m, &f->cbind) < 0 ||
	       ipc_get_str(m, &f->cbname) < 0 || ipc_get_bytes(m, &f->cb, &f->cblen) < 0 ||
	       ipc_get_end(m) < 0 ? -1 : 0;
}

int authmsg_scram_final(struct ipc_msg *m, struct scram_final_in *f)
{
	return ipc_get_bytes(m, &f->cbinput, &f->cbinput_len) < 0 ||
	       ipc_get_str(m, &f->nonce) < 0 || ipc_get_bytes(m, &f->proof, &f->proof_len) < 0 ||
	       ipc_get_str(m, &f->without_proof) < 0 || ipc_get_end(m) < 0 ? -1 : 0;
}

int authmsg_oauth(struct ipc_msg *m, struct oauth_in *o)
{
	return ipc_get_str(m, &o->authzid) < 0 || ipc_get_str(m, &o->token) < 0 ||
	       ipc_get_end(m) < 0 ? -1 : 0;
}

int authmsg_job(struct ipc_msg *m, struct job_in *j)
{
	return ipc_get_u32(m, &j->op) < 0 || ipc_get_u32(m, &j->db) < 0 ||
	       ipc_get_str(m, &j->user) < 0 || ipc_get_str(m, &j->password) < 0 ||
	       ipc_get_str(m, &j->remote) < 0 || ipc_get_str(m, &j->known) < 0 ||
	       ipc_get_end(m) < 0 ? -1 : 0;
}
