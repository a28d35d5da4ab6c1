import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import Typography from '@mui/material/Typography';
import { useAppSelector } from '../store';

export default function Loading({ what }: { what: string }) {
  const err = useAppSelector((s) => s.connection.error);
  return (
    <Box sx={{ display: 'flex', alignItems: 'center', gap: 2, p: 4 }} data-testid="loading">
      <CircularProgress size={22} />
      <Typography>
        Waiting for {what}…{err ? ` (${err})` : ''}
      </Typography>
    </Box>
  );
}
