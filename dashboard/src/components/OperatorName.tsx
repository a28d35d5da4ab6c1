// Who is acting: the operator's name, recorded with acknowledgements and
// silences and remembered in this browser (uiSlice, persist.ts). Asked once
// when first needed; shown in the app bar, where it can be changed.
import { useState } from 'react';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import TextField from '@mui/material/TextField';
import { useAppDispatch, useAppSelector } from '../store';
import { MAX_NAME_BYTES, operatorNameOk, uiActions } from '../store/uiSlice';

export interface OperatorDialogProps {
  open: boolean;
  /** Called with the name once saved (it is already in the store). */
  onSaved: (name: string) => void;
  onClose: () => void;
}

/** "Your name": saves it in the store (and so in local storage). */
export function OperatorDialog({ open, onSaved, onClose }: OperatorDialogProps) {
  const dispatch = useAppDispatch();
  const operator = useAppSelector((s) => s.ui.operator);
  const [name, setName] = useState(operator);
  const ok = operatorNameOk(name);
  const save = () => {
    if (!ok) return;
    dispatch(uiActions.setOperator(name));
    onSaved(name.trim());
  };
  return (
    <Dialog open={open} onClose={onClose} fullWidth maxWidth="xs" data-testid="operator-dialog" slotProps={{ transition: { onEnter: () => setName(operator) } }}>
      <DialogTitle>Your name — recorded with acknowledgements and silences</DialogTitle>
      <DialogContent sx={{ pt: '8px !important' }}>
        <TextField
          fullWidth
          size="small"
          label="Your name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          onKeyDown={(e) => e.key === 'Enter' && save()}
          error={name.length > 0 && !ok}
          helperText={`Every dashboard shows it beside what you do; remembered in this browser. At most ${MAX_NAME_BYTES} bytes.`}
          autoFocus
          slotProps={{ htmlInput: { 'data-testid': 'operator-name' } }}
        />
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="contained" disabled={!ok} onClick={save} data-testid="operator-save">
          Save
        </Button>
      </DialogActions>
    </Dialog>
  );
}

/** The app bar's "as alice" (or "your name?"), opening the dialog to change it. */
export function OperatorChip() {
  const operator = useAppSelector((s) => s.ui.operator);
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button size="small" color="inherit" onClick={() => setOpen(true)} title="The name recorded with your acknowledgements and silences: change it" data-testid="operator-chip" data-operator={operator} sx={{ textTransform: 'none' }}>
        {operator ? `as ${operator}` : 'your name?'}
      </Button>
      <OperatorDialog open={open} onSaved={() => setOpen(false)} onClose={() => setOpen(false)} />
    </>
  );
}
